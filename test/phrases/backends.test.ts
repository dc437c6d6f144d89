import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend, type BackendSpec } from '../../stages/phrases/create-backend.ts';
import { templatePhrases } from '../../stages/phrases/templates-backend.ts';
import { ConceptFailedError } from '../../stages/phrases/types.ts';
import { DEFAULT_SAMPLING } from '../../stages/phrases/sampling.ts';
import { fakeChatPhrases, fakeCompletion, startLlmTestServer } from '../helpers/llm-test-server.ts';
import { tempDir } from '../helpers/test-utils.ts';

const spec = (over: Partial<BackendSpec>): BackendSpec => ({
  backend: 'completions',
  llm: { model: 'test-model', apiKey: 'test-key' },
  requests: { concurrency: 4, timeoutMs: 10_000, retries: 2, backoff: { baseMs: 5, maxMs: 20 } },
  sampling: { ...DEFAULT_SAMPLING, n: 10, batchN: 4 },
  ...over,
});

test('completions: n split into requests of at most batch-n; phrase = prompt + completion; usage summed', async (t) => {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  const built = await createBackend(spec({ llm: { baseURL: server.baseURL, model: 'test-model', apiKey: 'k' } }), ['cat']);
  const r = await built.backend.generate('cat', 10);
  t.is(server.requests, 3); // 4 + 4 + 2
  t.is(built.requestCount(), 3);
  t.is(r.phrases.length, 10);
  t.true(r.phrases.every((p) => p.startsWith('a photo of cat that ')));
  // Request sizes 4, 4, 2: sample i of the k-th request is fakeCompletion(prompt, i, seed, k).
  const prompt = 'a photo of cat that';
  const expected = [0, 1, 2].flatMap((k) => [0, 1, 2, 3].slice(0, k === 2 ? 2 : 4).map((i) => prompt + fakeCompletion(prompt, i, undefined, k)));
  t.deepEqual([...r.phrases].sort(), expected.sort());
  t.deepEqual(r.usage, { prompt: 18, completion: 80 });
  t.deepEqual(built.backend.params, { prompt: 'a photo of {concept} that', n: 10, max_tokens: 32, temperature: 0.5, seed: undefined });
});

test('completions: a server that ignores n is topped up until n samples', async (t) => {
  const server = await startLlmTestServer({ maxChoices: 1 });
  t.teardown(() => server.close());
  const built = await createBackend(spec({ llm: { baseURL: server.baseURL, model: 'm' }, sampling: { ...DEFAULT_SAMPLING, n: 5, batchN: 5, seed: 7 } }), ['dog']);
  const r = await built.backend.generate('dog', 5);
  t.is(r.phrases.length, 5);
  t.is(new Set(r.phrases).size, 5); // different seeds per request make different samples
  t.is(server.requests, 5);
});

test('chat: JSON answer validated; phrases returned; json_schema response format sent', async (t) => {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  let format: unknown;
  server.faultFor((info) => { format = info.body.response_format; return null; });
  const built = await createBackend(spec({ backend: 'chat', llm: { baseURL: server.baseURL, model: 'chat-model' } }), ['Human face']);
  const r = await built.backend.generate('Human face', 6);
  t.is(server.byEndpoint.chat, 2);
  t.deepEqual([...r.phrases].sort(), [...fakeChatPhrases('Human face', 4, undefined, 0), ...fakeChatPhrases('Human face', 2, undefined, 1)].sort());
  t.is((format as { type: string }).type, 'json_schema');
  t.deepEqual(r.usage, { prompt: 80, completion: 60 });
});

test('chat: json_object format on request', async (t) => {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  let format: unknown;
  server.faultFor((info) => { format = info.body.response_format; return null; });
  const built = await createBackend(spec({ backend: 'chat', chatFormat: 'json_object', llm: { baseURL: server.baseURL, model: 'm' } }), ['x']);
  await built.backend.generate('x', 2);
  t.deepEqual(format, { type: 'json_object' });
});

test('templates: deterministic per concept and seed, distinct, contain the concept, no requests', async (t) => {
  const built = await createBackend(spec({ backend: 'templates', llm: {} }), ['cat']);
  const a = await built.backend.generate('cat', 50);
  const b = await built.backend.generate('cat', 50);
  t.deepEqual(a, b);
  t.is(a.phrases.length, 50);
  t.is(new Set(a.phrases).size, 50);
  t.true(a.phrases.every((p) => p.includes('cat')));
  t.notDeepEqual(templatePhrases('cat', 50, 1), a.phrases);
  t.notDeepEqual(templatePhrases('dog', 50, 0).map((p) => p.replace('dog', 'cat')), a.phrases);
  t.is(built.requestCount(), 0);
  t.false(built.backend.cacheable);
});

test('import: JSON object and JSON lines; missing concept fails the concept only', async (t) => {
  const dir = tempDir('import');
  const json = join(dir, 'p.json');
  writeFileSync(json, JSON.stringify({ cat: ['a photo of cat that a', 'a photo of cat that b'], dog: ['a dog'] }));
  const jsonl = join(dir, 'p.jsonl');
  writeFileSync(jsonl, `${JSON.stringify({ concept: 'cat', phrases: ['x cat'] })}\n\n${JSON.stringify({ concept: 'cat', phrases: ['y cat'] })}\n`
    + `${JSON.stringify({ concept: 'bird', phrases: ['z bird'] })}\n`);
  const fromJson = await createBackend(spec({ backend: 'import', importFile: json }), ['cat', 'eel']);
  t.deepEqual((await fromJson.backend.generate('cat', 256)).phrases, ['a photo of cat that a', 'a photo of cat that b']);
  await t.throwsAsync(fromJson.backend.generate('eel', 256), { instanceOf: ConceptFailedError, message: /not in the import file/ });
  await t.throwsAsync(fromJson.backend.generate('dog', 256), { instanceOf: ConceptFailedError }); // not needed: not loaded
  const fromLines = await createBackend(spec({ backend: 'import', importFile: jsonl }), ['Cat']);
  t.deepEqual((await fromLines.backend.generate('Cat', 256)).phrases, ['x cat', 'y cat']); // case-insensitive fallback
  t.not(fromJson.backend.params.file, fromLines.backend.params.file);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"concept": "a", "phrases": "nope"}\n');
  await t.throwsAsync(createBackend(spec({ backend: 'import', importFile: bad }), ['a']), { message: /line 1/ });
});

test('LLM backends need a model', async (t) => {
  await t.throwsAsync(createBackend(spec({ llm: {} }), ['x']), { message: /--llm-model/ });
});
