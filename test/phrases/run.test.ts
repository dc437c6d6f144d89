import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { toTable as conceptsTable } from '../../schemas/concepts.ts';
import { listDoneParts, readPart, readPartStats, writePart } from '../../schemas/part-io.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { fromTable } from '../../schemas/phrases.ts';
import { loadConcepts } from '../../stages/phrases/concept-source.ts';
import { type RunPhrasesOptions, runPhrases } from '../../stages/phrases/run-phrases.ts';
import { startLlmTestServer } from '../helpers/llm-test-server.ts';
import { tempDir } from '../helpers/test-utils.ts';

const countTokens = (s: string): number => s.split(/\s+/).filter(Boolean).length + 2;
const tmp = (): string => tempDir('phrases');

async function serverRun(t: import('ava').ExecutionContext, over: Partial<RunPhrasesOptions> = {}) {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  const outDir = tmp();
  const base: RunPhrasesOptions = {
    concepts: ['cat', 'dog', 'bird'], outDir, countTokens, env: {},
    llm: { baseURL: server.baseURL, model: 'test-model', apiKey: 'k' },
    sampling: { n: 6, batchN: 4 },
    requests: { concurrency: 4, retries: 2, timeoutMs: 10_000, backoff: { baseMs: 5, maxMs: 10 } },
    ...over,
  };
  return { server, outDir, base };
}

test('completions run: parts, schema, per-concept summary; a rerun makes zero requests', async (t) => {
  const { server, outDir, base } = await serverRun(t);
  const first = await runPhrases(base);
  t.is(first.backend, 'completions');
  t.is(first.requests, 6); // 3 concepts × (4 + 2)
  t.is(server.requests, 6);
  t.is(first.cached, 0);
  t.is(first.generated, 3);
  t.is(first.failed, 0);
  t.deepEqual(first.usage, { prompt: 36, completion: 144 }); // the test server: 6 prompt + 8 per sample
  const part = fromTable(readPart(outDir, 'phrases', 0));
  t.is(part.rows.length, 18);
  t.is(part.targets, null);
  t.true(part.rows.every((r) => r.phrase.startsWith(`a photo of ${r.concept} that`)));
  t.true(part.rows.every((r) => r.swapped.startsWith('a photo of  $  that')));
  t.true(part.rows.every((r) => r.backend === 'completions' && r.model === 'test-model' && r.paramsHash === first.paramsHash));
  const stats = readPartStats(outDir, 'phrases', 0);
  t.is(stats.schemaVersion, SCHEMA_VERSION);
  t.deepEqual((stats.concepts as Record<string, { kept: number }>).cat.kept, 6);
  t.true(existsSync(join(outDir, 'phrases-cache.sqlite')));
  const summary = JSON.parse(readFileSync(join(outDir, 'phrases-summary.json'), 'utf8'));
  t.is(summary.requests, 6);

  server.resetCounts();
  const again = await runPhrases(base);
  t.is(server.requests, 0);
  t.is(again.requests, 0);
  t.is(again.cached, 3);
  t.is(again.partsReused, 1);
  t.deepEqual(fromTable(readPart(outDir, 'phrases', 0)).rows, part.rows);

  // Other sampling parameters are another cache key: paid again.
  const other = await runPhrases({ ...base, sampling: { n: 6, batchN: 4, temperature: 0.7 } });
  t.is(other.requests, 6);
  t.not(other.paramsHash, first.paramsHash);
});

test('a failed concept is recorded, the run goes on, and the next run retries only it', async (t) => {
  const { server, outDir, base } = await serverRun(t);
  server.faultFor((info) => (info.concept === 'dog' ? { kind: '500' } : null));
  const first = await runPhrases(base);
  t.is(first.failed, 1);
  t.is(first.generated, 2);
  t.is(first.perConcept.dog.status, 'failed');
  t.regex(first.perConcept.dog.reason ?? '', /500/);
  const db = new Database(join(outDir, 'phrases-cache.sqlite'), { readonly: true });
  t.deepEqual(db.prepare("SELECT concept, status FROM concepts ORDER BY concept").all(),
    [{ concept: 'bird', status: 'ok' }, { concept: 'cat', status: 'ok' }, { concept: 'dog', status: 'failed' }]);
  db.close();
  server.faultFor(null);
  server.resetCounts();
  const second = await runPhrases(base);
  t.deepEqual([...server.byConcept.keys()], ['dog']);
  t.is(second.cached, 2);
  t.is(second.failed, 0);
  t.is(fromTable(readPart(outDir, 'phrases', 0)).rows.filter((r) => r.concept === 'dog').length, 6);
});

test('a shared --cache file serves another output folder', async (t) => {
  const { server, base } = await serverRun(t);
  const cachePath = join(tmp(), 'shared.sqlite');
  await runPhrases({ ...base, cachePath });
  server.resetCounts();
  const r = await runPhrases({ ...base, cachePath, outDir: tmp(), concepts: ['bird', 'cat', 'eel'] });
  t.deepEqual([...server.byConcept.keys()], ['eel']);
  t.is(r.cached, 2);
});

test('a 401 stops the run with one clear line', async (t) => {
  const { server, base } = await serverRun(t);
  server.faultFor(() => ({ kind: '401' }));
  await t.throwsAsync(runPhrases(base), { message: /^phrases: HTTP 401/ });
});

test('chat backend run', async (t) => {
  const { server, outDir, base } = await serverRun(t, { backend: 'chat' });
  const r = await runPhrases(base);
  t.is(r.backend, 'chat');
  t.is(server.byEndpoint.chat, 6);
  const rows = fromTable(readPart(outDir, 'phrases', 0)).rows;
  t.is(rows.length, 18);
  t.true(rows.every((row) => row.swapped.startsWith('a photo of  $  with tag')));
});

test('templates are the default without an LLM; targets from a TextEncoder are stored per phrase', async (t) => {
  const outDir = tmp();
  const calls: number[] = [];
  const encoder: TextEncoder = {
    dim: 3, width: 4,
    async encodeIds() { throw new Error('unused'); },
    async encodeTexts(texts) {
      calls.push(texts.length);
      return texts.map((s) => Float32Array.from([s.length, s.charCodeAt(0), s.split(' ').length]));
    },
  };
  const r = await runPhrases({
    concepts: ['cat', 'Human face', 'berry'], outDir, countTokens, env: {}, sampling: { n: 20 },
    textEncoder: encoder, textEncoderId: 'fake', featureBatch: 16, conceptsPerPart: 2,
  });
  t.is(r.backend, 'templates');
  t.is(r.requests, 0);
  t.is(r.cachePath, null);
  t.deepEqual(r.parts, [0, 1]);
  t.deepEqual(listDoneParts(outDir, 'phrases'), [0, 1]);
  const part0 = fromTable(readPart(outDir, 'phrases', 0));
  t.is(part0.rows.length, 40);
  t.is(part0.targets!.dim, 3);
  part0.rows.forEach((row, i) => {
    t.deepEqual([...part0.targets!.rows[i]!], [row.phrase.length, row.phrase.charCodeAt(0), row.phrase.split(' ').length]);
  });
  t.deepEqual(calls, [16, 16, 8, 16, 4]);
  // Unchanged inputs: no feature is computed again.
  calls.length = 0;
  const again = await runPhrases({
    concepts: ['cat', 'Human face', 'berry'], outDir, countTokens, env: {}, sampling: { n: 20 },
    textEncoder: encoder, textEncoderId: 'fake', featureBatch: 16, conceptsPerPart: 2,
  });
  t.deepEqual(calls, []);
  t.is(again.partsReused, 2);
  t.is(again.phrases, 60);
  // Fewer concepts: the stale second part goes.
  await runPhrases({ concepts: ['cat'], outDir, countTokens, env: {}, sampling: { n: 20 }, conceptsPerPart: 2 });
  t.deepEqual(listDoneParts(outDir, 'phrases'), [0]);
  t.is(fromTable(readPart(outDir, 'phrases', 0)).targets, null);
});

test('an LLM model in the environment makes completions the default', async (t) => {
  const { server, base } = await serverRun(t);
  const r = await runPhrases({ ...base, llm: {}, env: { OPENAI_BASE_URL: server.baseURL, STARWORD_LLM_MODEL: 'env-model' } });
  t.is(r.backend, 'completions');
  t.is(r.model, 'env-model');
  t.is(server.requests, 6);
});

test('searle swap: a concept whose phrases lack it (case-sensitive) is dropped whole and counted', async (t) => {
  const dir = tmp();
  const file = join(dir, 'import.json');
  writeFileSync(file, JSON.stringify({
    cat: ['a photo of cat that sleeps', 'a photo of Cat that eats'],
    dog: ['a photo of dog that runs', 'a photo of dog that runs', ''],
  }));
  const base = { concepts: ['cat', 'dog', 'eel'], outDir: join(dir, 'out'), countTokens, env: {}, backend: 'import' as const, importFile: file };
  const searle = await runPhrases({ ...base, swap: 'searle' });
  t.is(searle.perConcept.cat.status, 'dropped');
  t.is(searle.perConcept.cat.droppedWithoutConcept, 1);
  t.is(searle.perConcept.dog.kept, 1);
  t.is(searle.perConcept.dog.droppedDuplicate, 1);
  t.is(searle.perConcept.dog.droppedEmpty, 1);
  t.is(searle.perConcept.eel.status, 'failed');
  t.is(searle.failed, 1);
  t.is(searle.dropped, 1);
  const word = await runPhrases({ ...base, swap: 'word' });
  t.is(word.perConcept.cat.kept, 2);
  t.is(word.dropped, 0);
});

test('concepts from a folder of concepts parts: union of each row\'s top-k, first appearance order', async (t) => {
  const dir = tmp();
  const row = (imageId: string, concepts: string[]) => ({ imageId, concepts, scores: new Float32Array(concepts.length) });
  await writePart(dir, 'concepts', 0, conceptsTable([row('a', ['cat', 'dog', 'eel']), row('b', ['dog', 'fox', 'gnu'])]), SCHEMA_VERSION);
  await writePart(dir, 'concepts', 1, conceptsTable([row('c', ['hen', 'cat', 'ant'])]), SCHEMA_VERSION);
  t.deepEqual(loadConcepts(dir, 2), ['cat', 'dog', 'fox', 'hen']);
  const file = join(dir, 'names.txt');
  writeFileSync(file, 'cat\n\n  dog \ncat\r\nHuman face\n');
  t.deepEqual(loadConcepts(file, 2), ['cat', 'dog', 'Human face']);
  t.throws(() => loadConcepts(join(dir, 'nope'), 2), { message: /no such file/ });
});
