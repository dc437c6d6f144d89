import test from 'ava';
import { createBackend, type BackendSpec } from '../../stages/phrases/create-backend.ts';
import { ConceptFailedError, RunFatalError } from '../../stages/phrases/types.ts';
import { DEFAULT_SAMPLING } from '../../stages/phrases/sampling.ts';
import { type Fault, startLlmTestServer } from '../helpers/llm-test-server.ts';

// Generous timeouts: the whole suite runs on 2 busy cores, and a spurious timeout is an extra retry.
async function setup(t: import('ava').ExecutionContext, over: Partial<BackendSpec> = {}) {
  const server = await startLlmTestServer();
  t.teardown(() => server.close());
  const built = await createBackend({
    backend: 'completions',
    llm: { baseURL: server.baseURL, model: 'm', apiKey: 'k' },
    requests: { concurrency: 2, timeoutMs: 10_000, retries: 3, backoff: { baseMs: 5, maxMs: 20 } },
    sampling: { ...DEFAULT_SAMPLING, n: 2, batchN: 2 },
    ...over,
  }, ['cat']);
  return { server, built };
}

const SURVIVABLE: [string, Fault][] = [
  ['429 with Retry-After-ms', { kind: '429', retryAfterMs: 30 }],
  ['500', { kind: '500' }],
  ['a hang (client timeout)', { kind: 'hang' }],
  ['malformed JSON body', { kind: 'malformed-json' }],
  ['dropped connection', { kind: 'drop' }],
];

for (const [name, fault] of SURVIVABLE) {
  test(`survives ${name}: retried, counted, phrases delivered`, async (t) => {
    // Only the hang needs a short client timeout; 1.5 s leaves a loaded machine room for real answers.
    const timeoutMs = fault.kind === 'hang' ? 1500 : 10_000;
    const { server, built } = await setup(t, { requests: { concurrency: 2, timeoutMs, retries: 3, backoff: { baseMs: 5, maxMs: 20 } } });
    server.script(fault, fault);
    const r = await built.backend.generate('cat', 2);
    t.is(r.phrases.length, 2);
    t.is(server.requests, 3);
    t.is(built.requestCount(), 3);
    t.is(built.stats()!.retries, 2);
    t.is(server.faultsServed[fault.kind], 2);
    const kinds = built.stats()!.faults;
    t.is(Object.values(kinds).reduce((a, b) => a + (b ?? 0), 0), 2);
  });
}

test('429 Retry-After in seconds is honoured', async (t) => {
  const { server, built } = await setup(t);
  server.script({ kind: '429', retryAfter: '1' });
  const t0 = Date.now();
  await built.backend.generate('cat', 2);
  t.true(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms`);
  t.is(server.requests, 2);
  t.is(built.stats()!.faults['rate-limit'], 1);
});

test('retries spent: the concept fails with the reason, other concepts go on', async (t) => {
  const { server, built } = await setup(t);
  server.faultFor((info) => (info.concept === 'cat' ? { kind: '500' } : null));
  const err = await t.throwsAsync(built.backend.generate('cat', 2), { instanceOf: ConceptFailedError });
  t.regex(err!.message, /500.*after 4 attempts/);
  t.is(server.byConcept.get('cat'), 4);
  t.is((await built.backend.generate('dog', 2)).phrases.length, 2);
});

test('chat: a malformed answer is retried, then the concept is recorded as failed', async (t) => {
  const { server, built } = await setup(t, { backend: 'chat' });
  server.script({ kind: 'bad-content' });
  t.is((await built.backend.generate('cat', 2)).phrases.length, 2);
  t.is(server.requests, 2);
  t.is(built.stats()!.faults.malformed, 1);
  server.faultFor(() => ({ kind: 'bad-content' }));
  await t.throwsAsync(built.backend.generate('cat', 2), { instanceOf: ConceptFailedError, message: /malformed/ });
  t.is(server.requests, 2 + 4);
});

test('a 400 fails the concept without retrying', async (t) => {
  const { server, built } = await setup(t);
  server.script({ kind: 'echo-auth-400' });
  await t.throwsAsync(built.backend.generate('cat', 2), { instanceOf: ConceptFailedError });
  t.is(server.requests, 1);
});

test('a 401 is fatal for the run', async (t) => {
  const { server, built } = await setup(t);
  server.script({ kind: '401' });
  await t.throwsAsync(built.backend.generate('cat', 2), { instanceOf: RunFatalError, message: /401/ });
  t.is(server.requests, 1);
});

test('rpm limit spaces requests (p-queue interval)', async (t) => {
  const { server, built } = await setup(t, {
    requests: { concurrency: 8, rpm: 2, timeoutMs: 10_000, retries: 0 },
    sampling: { ...DEFAULT_SAMPLING, n: 3, batchN: 1 },
  });
  const pending = built.backend.generate('cat', 3);
  for (let i = 0; i < 500 && server.requests < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  t.is(server.requests, 2); // the third waits for the next minute
  built.stop();
  await t.throwsAsync(pending);
});

test('retries are summarised: one line per window, the rest counted into the next line', async (t) => {
  const logs: string[] = [];
  const { server, built } = await setup(t, { log: (l) => logs.push(l) });
  server.faultFor(() => ({ kind: '500' }));
  const concepts = Array.from({ length: 10 }, (_, i) => `thing${i}`);
  await Promise.all(concepts.map((c) => t.throwsAsync(built.backend.generate(c, 2), { instanceOf: ConceptFailedError })));
  t.is(built.stats()!.retries, 30, '10 concepts × 3 retries');
  const retryLines = logs.filter((l) => /; retry \d\/3/.test(l));
  t.true(retryLines.length >= 1 && retryLines.length <= 2, retryLines.join('\n'));
});
