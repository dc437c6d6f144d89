/**
 * The `starword phrases` command as a child process against the test server: the API key never leaks,
 * and a run killed with SIGKILL (twice) resumes with nothing lost, nothing duplicated and no committed
 * concept requested again.
 */
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { fromTable } from '../../schemas/phrases.ts';
import { type LlmTestServer, startLlmTestServer } from '../helpers/llm-test-server.ts';
import { tempDir } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'starword.js');

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'STARWORD_LLM_MODEL']) if (!(k in extra)) delete env[k];
  return env;
}

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, 'phrases', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

function committed(cachePath: string): Map<string, string[]> {
  const db = new Database(cachePath, { readonly: true, fileMustExist: true });
  try {
    const out = new Map<string, string[]>();
    const rows = db.prepare("SELECT c.concept AS concept, p.text AS text FROM concepts c JOIN phrases p USING (config_key, concept) WHERE c.status = 'ok' ORDER BY c.concept, p.idx").all() as { concept: string; text: string }[];
    for (const r of rows) out.set(r.concept, [...(out.get(r.concept) ?? []), r.text]);
    return out;
  } finally { db.close(); }
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('SIGKILL at any moment: resume loses nothing, duplicates nothing, repeats no committed request', async (t) => {
  const server: LlmTestServer = await startLlmTestServer({ delayMs: 25 });
  t.teardown(() => server.close());
  const dir = tempDir('kill');
  const concepts = Array.from({ length: 30 }, (_, i) => `thing${i}`);
  writeFileSync(join(dir, 'concepts.txt'), `${concepts.join('\n')}\n`);
  const out = join(dir, 'out');
  const cachePath = join(out, 'phrases-cache.sqlite');
  const args = ['--concepts', join(dir, 'concepts.txt'), '--out', out, '--base-url', server.baseURL, '--llm-model', 'm',
    '--n', '4', '--batch-n', '2', '--concurrency', '2', '--retries', '0'];
  const env = cleanEnv({});

  let before = new Map<string, string[]>();
  for (const killAfterConcepts of [8, 18]) {
    server.resetCounts();
    const run = start(args, env);
    // Kill once the server has started on this many new concepts: some committed, some in flight.
    await waitFor(() => server.byConcept.size >= killAfterConcepts - before.size, 30_000);
    run.child.kill('SIGKILL');
    const res = await run.done;
    t.is(res.signal, 'SIGKILL');
    for (const c of before.keys()) t.is(server.byConcept.get(c), undefined, `${c} was committed but requested again`);
    const now = committed(cachePath);
    for (const [c, phrases] of before) t.deepEqual(now.get(c), phrases, `${c} changed after a kill`);
    for (const phrases of now.values()) t.is(phrases.length, 4);
    t.true(now.size > before.size, 'the killed run committed something');
    t.true(now.size < concepts.length, 'the kill came before the end');
    before = now;
  }

  server.resetCounts();
  const final = await start(args, env).done;
  t.is(final.code, 0, final.stderr);
  for (const c of before.keys()) t.is(server.byConcept.get(c), undefined, `${c} was committed but requested again`);
  const missing = concepts.length - before.size;
  t.is(server.requests, missing * 2);
  const lines = final.stdout.trim().split('\n');
  t.is(lines[lines.length - 1], `requests: ${missing * 2}, cached: ${before.size}, failed: 0`);

  const all = committed(cachePath);
  t.deepEqual([...all.keys()].sort(), [...concepts].sort());
  for (const [c, phrases] of before) t.deepEqual(all.get(c), phrases);
  const rows = listDoneParts(out, 'phrases').flatMap((i) => fromTable(readPart(out, 'phrases', i)).rows);
  t.is(rows.length, concepts.length * 4);
  t.is(new Set(rows.map((r) => `${r.concept}\u0000${r.phrase}`)).size, rows.length);
  for (const c of concepts) t.deepEqual(rows.filter((r) => r.concept === c).map((r) => r.phrase), all.get(c));
});

test('the API key is sent but appears in no output, log, cache or summary, even when a server echoes it', async (t) => {
  const key = 'starword-test-key-9f8e7d6c';
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  server.faultFor((info) => (info.concept === 'dog' ? { kind: 'echo-auth-400' } : null));
  const dir = tempDir('key');
  writeFileSync(join(dir, 'c.txt'), 'cat\ndog\n');
  const out = join(dir, 'out');
  const res = await start(['--concepts', join(dir, 'c.txt'), '--out', out, '--backend', 'completions', '--base-url', server.baseURL,
    '--llm-model', 'm', '--n', '2', '--api-key-env', 'MY_LLM_KEY'], cleanEnv({ MY_LLM_KEY: key })).done;
  t.is(res.code, 0, res.stderr);
  t.deepEqual([...server.authorizations], [`Bearer ${key}`]);
  t.regex(res.stderr, /"dog" failed: HTTP 400/);
  t.regex(res.stdout, /requests: 2, cached: 0, failed: 1\n$/);
  t.false(res.stdout.includes(key));
  t.false(res.stderr.includes(key));
  for (const name of readdirSync(out)) {
    t.false(readFileSync(join(out, name)).includes(key), `${name} holds the key`);
  }
  const db = new Database(join(out, 'phrases-cache.sqlite'), { readonly: true });
  const reason = (db.prepare("SELECT reason FROM concepts WHERE concept = 'dog'").get() as { reason: string }).reason;
  db.close();
  t.regex(reason, /invalid request with key \*\*\*/);
});

test('bad options are one-line errors with exit code 2', async (t) => {
  const dir = tempDir('bad');
  writeFileSync(join(dir, 'c.txt'), 'cat\n');
  const cases: [string[], RegExp][] = [
    [['--concepts', join(dir, 'nope.txt'), '--out', dir], /no such file/],
    [['--concepts', join(dir, 'c.txt'), '--out', dir, '--backend', 'gpt'], /--backend must be one of/],
    [['--concepts', join(dir, 'c.txt'), '--out', dir, '--backend', 'chat'], /needs --llm-model/],
    [['--concepts', join(dir, 'c.txt'), '--out', dir, '--n', '0'], /option '--n <n>' argument '0' is invalid\. expected a positive integer/],
    [['--concepts', join(dir, 'c.txt'), '--out', dir, '--backend', 'import'], /needs --import/],
  ];
  for (const [args, message] of cases) {
    const res = await start(args, cleanEnv({})).done;
    t.is(res.code, 2, args.join(' '));
    const lines = res.stderr.trim().split('\n');
    t.regex(lines[lines.length - 1], new RegExp(`^starword: .*${message.source}`));
    t.false(/^\s+at /m.test(res.stderr), 'no stack trace');
  }
});

test.serial('retries are summarised by cause, not one line each; a log file gets no line per concept or feature batch', async (t) => {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  server.script(...Array.from({ length: 10 }, () => ({ kind: '429' as const, retryAfterMs: 5 })), { kind: 'hang' }, { kind: 'hang' });
  const dir = tempDir('retries');
  const concepts = Array.from({ length: 30 }, (_, i) => `thing${i}`);
  writeFileSync(join(dir, 'c.txt'), `${concepts.join('\n')}\n`);
  const res = await start(['--concepts', join(dir, 'c.txt'), '--out', join(dir, 'out'), '--backend', 'completions', '--base-url', server.baseURL,
    '--llm-model', 'm', '--n', '2', '--timeout-ms', '3000', '--concurrency', '4'], cleanEnv({})).done;
  t.is(res.code, 0, res.stderr);
  t.is(server.faultsServed['429'], 10);
  t.regex(res.stderr, /^phrases: 30\/30 concepts \(30 generated\); 12 retries \(429: 10, timeout: 2\)$/m);
  t.false(/retry \d+\//.test(res.stderr), 'no line per retry');
  t.true(res.stderr.trim().split('\n').length <= 6, res.stderr);
});
