/**
 * Nothing silent when the LLM fails: a server that refuses every connection trips a circuit breaker
 * (a bounded number of attempts, not retries × concepts), a phrases stage that produced no phrase stops
 * with one line naming the flag that goes on anyway, an empty import file does the same, and a partial
 * failure is recorded where `inspect` counts it while the run goes on.
 */
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inspectRun } from '../../pipeline/inspect-run.ts';
import { type RunPhrasesOptions, runPhrases } from '../../stages/phrases/run-phrases.ts';
import { UserError } from '../../util/errors.ts';
import { startLlmTestServer } from '../helpers/llm-test-server.ts';
import { tempDir } from '../helpers/test-utils.ts';

const countTokens = (s: string): number => s.split(/\s+/).filter(Boolean).length + 2;
const tmp = (): string => tempDir('phrases-empty');
const CONCEPTS = Array.from({ length: 31 }, (_, i) => `concept ${i}`);

/** A loopback port that nothing listens on (bound, then closed): every connection is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function refusedRun(over: Partial<RunPhrasesOptions> = {}): Promise<RunPhrasesOptions> {
  return {
    concepts: CONCEPTS, outDir: tmp(), countTokens, env: {},
    llm: { baseURL: `http://127.0.0.1:${await closedPort()}/v1`, model: 'm', apiKey: 'k' },
    sampling: { n: 4, batchN: 4 },
    // the defaults' retries and concurrency, a short backoff so the old behaviour also ends in a test
    requests: { concurrency: 16, retries: 6, timeoutMs: 10_000, backoff: { baseMs: 5, maxMs: 20 } },
    ...over,
  };
}

test('a server that refuses every connection: the breaker stops the attempts early and every concept is failed', async (t) => {
  const logs: string[] = [];
  const r = await runPhrases({ ...await refusedRun(), allowEmpty: true, log: (l) => logs.push(l) });
  t.is(r.failed, 31);
  t.is(r.phrases, 0);
  // today: 31 concepts × 7 attempts = 217 requests and as many retry lines; now 2 × concurrency refusals
  // in a row open the breaker, and at most the 16 attempts then in flight follow
  t.true(r.requests <= 48, `${r.requests} requests`);
  t.true(r.retries <= 48, `${r.retries} retries`);
  t.true(logs.filter((l) => /; retry \d/.test(l)).length <= 48, `${logs.filter((l) => /; retry \d/.test(l)).length} retry lines`);
  t.true(r.shortCircuited > 0);
  t.true(r.serverDownAfter !== null && r.serverDownAfter >= 32);
  t.true(logs.some((l) => /refused \d+ connections in a row/.test(l)), logs.join('\n'));
  t.true(logs.filter((l) => /^phrases: "concept \d+" failed: /.test(l)).length <= 10, 'failures past the tenth are counted, not printed');
  const summary = JSON.parse(readFileSync(join((r.cachePath ?? '').replace(/\/[^/]+$/, ''), 'phrases-summary.json'), 'utf8'));
  t.is(summary.failed, 31);
  t.regex(summary.perConcept['concept 0'].reason, /refused/);
});

test('no phrase for any concept stops the stage: one line, naming the flag that goes on', async (t) => {
  const err = await t.throwsAsync(runPhrases(await refusedRun()), { instanceOf: UserError });
  t.regex(err!.message, /^phrases: no phrases for any of 31 concepts \(31 failed: .*refused.*\).*--allow-empty-phrases/);
  t.false(err!.message.includes('\n'));
});

test('an empty --import file stops the stage the same way', async (t) => {
  for (const content of ['', '{}', '\n\n']) {
    const dir = tmp();
    const file = join(dir, content.trim() === '{}' ? 'phrases.json' : 'phrases.jsonl');
    writeFileSync(file, content);
    const err = await t.throwsAsync(runPhrases({ concepts: ['cat', 'dog'], outDir: join(dir, 'out'), countTokens, env: {}, backend: 'import', importFile: file }),
      { instanceOf: UserError }, JSON.stringify(content));
    t.regex(err!.message, /^phrases: no phrases for any of 2 concepts \(2 failed: not in the import file\)/);
  }
});

test('partial failure: the run goes on, and the failed concepts are failures that inspect counts', async (t) => {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  server.faultFor((info) => (info.concept === 'dog' ? { kind: '500' } : null));
  const run = tmp();
  // a run folder as `run` leaves it: run.json, and the phrases stage's folder
  writeFileSync(join(run, 'run.json'), JSON.stringify({ format: 'starword-run', version: 1, stages: {} }));
  mkdirSync(join(run, 'phrases'));
  const r = await runPhrases({
    concepts: ['cat', 'dog', 'bird'], outDir: join(run, 'phrases'), countTokens, env: {},
    llm: { baseURL: server.baseURL, model: 'm', apiKey: 'k' }, sampling: { n: 4, batchN: 4 },
    requests: { concurrency: 2, retries: 1, timeoutMs: 10_000, backoff: { baseMs: 5, maxMs: 10 } },
  });
  t.is(r.failed, 1);
  t.is(r.phrases, 8);
  const report = inspectRun(run);
  t.is(report.failures.total, 1);
  t.is(report.failures.byStage.phrases, 1);
  t.true(report.failures.examples.some((e) => /^phrases llm-failed: dog: HTTP 500/.test(e)), report.failures.examples.join('\n'));
});
