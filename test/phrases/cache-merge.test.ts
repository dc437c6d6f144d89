import test from 'ava';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LlmAnswerCache, type CacheConfig } from '../../util/llm/answer-cache.ts';
import { mergePhraseCaches } from '../../stages/phrases/cache-merge.ts';
import { type RunPhrasesOptions, runPhrases } from '../../stages/phrases/run-phrases.ts';
import { fromTable } from '../../schemas/phrases.ts';
import { readPart } from '../../schemas/part-io.ts';
import { startLlmTestServer } from '../helpers/llm-test-server.ts';
import { tempDir } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = (): string => tempDir('cache-merge');
const CFG: CacheConfig = { backend: 'completions', model: 'm', params: { n: 3, temperature: 0.5 } };

function makeCache(path: string, cfg: CacheConfig, entries: Record<string, string[] | 'failed'>): void {
  const c = LlmAnswerCache.open(path);
  const key = c.register(cfg);
  for (const [concept, v] of Object.entries(entries)) {
    if (v === 'failed') c.recordFailure(key, concept, 'HTTP 500', { prompt: 1, completion: 0 });
    else c.commit(key, concept, { phrases: v, usage: { prompt: 2, completion: 10 * v.length } });
  }
  c.close();
}

/** Everything a cache serves, per concept: status and phrases in order. */
function dump(path: string): Record<string, { status: string; phrases: string[] }> {
  const db = new Database(path, { readonly: true });
  const out: Record<string, { status: string; phrases: string[] }> = {};
  for (const r of db.prepare('SELECT concept, status FROM concepts ORDER BY concept').all() as { concept: string; status: string }[]) {
    out[r.concept] = { status: r.status, phrases: (db.prepare('SELECT text FROM phrases WHERE concept = ? ORDER BY idx').all(r.concept) as { text: string }[]).map((p) => p.text) };
  }
  db.close();
  return out;
}

test('each concept once, from one input, its complete set; answered beats failed; merging again changes nothing', (t) => {
  const dir = tmp();
  const a = join(dir, 'a.sqlite'), b = join(dir, 'b.sqlite'), out = join(dir, 'merged.sqlite');
  makeCache(a, CFG, { cat: ['a cat 1', 'a cat 2', 'a cat 3'], dog: 'failed', eel: ['a eel 1', 'a eel 2', 'a eel 3'] });
  // b paid for cat again but holds a smaller set; it answered dog; fox only here
  makeCache(b, CFG, { cat: ['b cat 1', 'b cat 2'], dog: ['b dog 1', 'b dog 2', 'b dog 3'], fox: ['b fox 1', 'b fox 2', 'b fox 3'] });
  const r = mergePhraseCaches(out, [b, a]);
  t.is(r.concepts, 4);
  t.is(r.ok, 4);
  t.is(r.failed, 0);
  t.is(r.duplicates, 1);
  t.is(r.phrases, 12);
  const merged = dump(out);
  t.deepEqual(merged.cat.phrases, ['a cat 1', 'a cat 2', 'a cat 3']); // the complete set, never a mix
  t.deepEqual(merged.dog.phrases, ['b dog 1', 'b dog 2', 'b dog 3']);
  t.deepEqual(Object.keys(merged), ['cat', 'dog', 'eel', 'fox']);

  const again = mergePhraseCaches(out, [a, b]);
  t.deepEqual(dump(out), merged);
  t.deepEqual(again.inputs, [out, a, b]);
  // the merged file is a working cache
  const c = LlmAnswerCache.open(out);
  t.deepEqual(c.get(c.register(CFG), 'fox')?.phrases, ['b fox 1', 'b fox 2', 'b fox 3']);
  c.close();
});

test('a damaged concept (phrases missing) is left out, so a later run pays for it again', (t) => {
  const dir = tmp();
  const a = join(dir, 'a.sqlite'), out = join(dir, 'm.sqlite');
  makeCache(a, CFG, { cat: ['1', '2', '3'], dog: ['1', '2', '3'] });
  const db = new Database(a);
  db.prepare("DELETE FROM phrases WHERE concept = 'dog' AND idx = 2").run();
  db.close();
  const r = mergePhraseCaches(out, [a]);
  t.is(r.damaged, 1);
  t.deepEqual(Object.keys(dump(out)), ['cat']);
});

test('refuses caches made with other settings, and files that are not phrase caches, naming the file', (t) => {
  const dir = tmp();
  const a = join(dir, 'a.sqlite'), other = join(dir, 'other-temp.sqlite'), junk = join(dir, 'junk.sqlite'), empty = join(dir, 'empty.sqlite');
  makeCache(a, CFG, { cat: ['1', '2', '3'] });
  makeCache(other, { ...CFG, params: { n: 3, temperature: 0.7 } }, { dog: ['1', '2', '3'] });
  writeFileSync(junk, 'this is not a database, just text that goes on for a while'.repeat(20));
  new Database(empty).close();
  const out = join(dir, 'out.sqlite');
  t.throws(() => mergePhraseCaches(out, [a, other]), { message: /^cache merge: .*other-temp\.sqlite was made with other settings \(params\.temperature 0\.7 here, 0\.5 in the others\)/ });
  t.throws(() => mergePhraseCaches(out, [a, junk]), { message: /^cache merge: .*junk\.sqlite: / });
  t.throws(() => mergePhraseCaches(out, [a, empty]), { message: /empty\.sqlite: not a starword phrase cache/ });
  t.throws(() => mergePhraseCaches(out, [a, join(dir, 'missing.sqlite')]), { message: /missing\.sqlite: no such file/ });
  t.throws(() => mergePhraseCaches(out, []), { message: /at least one cache/ });
});

test('concept-sharded phrases jobs with their own caches, merged: the final phrases run makes zero requests', async (t) => {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  const dir = tmp();
  const concepts = ['cat', 'dog', 'bird', 'eel', 'fox'];
  const base: RunPhrasesOptions = {
    concepts, outDir: join(dir, 'final'), countTokens: (s) => s.split(/\s+/).length + 2, env: {},
    llm: { baseURL: server.baseURL, model: 'test-model', apiKey: 'k' }, sampling: { n: 4, batchN: 2 },
    requests: { concurrency: 2, retries: 1, timeoutMs: 10_000, backoff: { baseMs: 5, maxMs: 10 } },
  };
  const jobs = [concepts.slice(0, 2), concepts.slice(2)];
  const caches: string[] = [];
  for (const [i, part] of jobs.entries()) {
    caches.push(join(dir, `job${i}`, 'cache.sqlite'));
    await runPhrases({ ...base, concepts: part, outDir: join(dir, `job${i}`), cachePath: caches[i] });
  }
  t.is(server.requests, 10);
  const merged = join(dir, 'merged.sqlite');
  const cli = await promisify(execFile)('node', ['bin/starword.js', 'cache', 'merge', merged, ...caches], { cwd: ROOT });
  t.regex(cli.stdout, /^cache merge: 2 caches -> .*merged\.sqlite: 5 concepts \(5 answered, 0 failed\), 20 phrases/);
  server.resetCounts();
  const final = await runPhrases({ ...base, cachePath: merged });
  t.is(server.requests, 0);
  t.is(final.requests, 0);
  t.is(final.cached, 5);
  t.is(fromTable(readPart(base.outDir, 'phrases', 0)).rows.length, 20);
  t.true(readFileSync(merged).length > 0);
});
