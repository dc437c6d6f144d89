import test from 'ava';
import { DEFAULT_BACKOFF, backoffDelay } from '../../util/llm/backoff.ts';
import { parseRetryAfter } from '../../util/llm/request-errors.ts';
import { TokenBudget } from '../../util/llm/token-budget.ts';
import { scrub, registerSecret } from '../../util/llm/secrets.ts';

const headers = (h: Record<string, string>) => new Headers(h);

test('Retry-After: seconds, HTTP date, retry-after-ms (preferred), junk', (t) => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  t.is(parseRetryAfter(headers({ 'retry-after': '3' }), now), 3000);
  t.is(parseRetryAfter(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:10 GMT' }), now), 10_000);
  t.is(parseRetryAfter(headers({ 'retry-after': 'Tue, 31 Dec 2024 23:00:00 GMT' }), now), 0);
  t.is(parseRetryAfter(headers({ 'retry-after': '3', 'retry-after-ms': '250' }), now), 250);
  t.is(parseRetryAfter(headers({ 'retry-after': 'soon' }), now), undefined);
  t.is(parseRetryAfter(headers({}), now), undefined);
});

test('backoff grows exponentially, is capped, jitters, and obeys Retry-After', (t) => {
  const opts = { ...DEFAULT_BACKOFF, baseMs: 100, maxMs: 1000 };
  t.is(backoffDelay(0, undefined, opts, () => 0), 50);
  t.is(backoffDelay(0, undefined, opts, () => 1), 100);
  t.is(backoffDelay(3, undefined, opts, () => 1), 800);
  t.is(backoffDelay(10, undefined, opts, () => 1), 1000);
  t.is(backoffDelay(0, 2000, opts, () => 0), 2000);
  t.true(backoffDelay(0, 2000, opts, () => 1) <= 2200);
  t.is(backoffDelay(0, 10 ** 9, opts, () => 0), opts.maxRetryAfterMs);
});

test('token budget: reserves, blocks until the next minute, corrects by actual usage', async (t) => {
  let now = 0;
  const b = new TokenBudget(1000, () => now);
  t.is(b.waitFor(600), 0);
  const r1 = await b.reserve(600);
  t.is(b.waitFor(600), 60_000); // would exceed: wait for the window
  b.settle(r1, 200); // the server used far less than estimated
  t.is(b.usedInWindow, 200);
  t.is(b.waitFor(600), 0);
  now = 30_000;
  t.is(b.waitFor(900), 30_000);
  now = 60_000;
  t.is(b.waitFor(900), 0); // new window
  b.settle(r1, 5000); // a settlement from an old window changes nothing
  t.is(b.usedInWindow, 0);
  await b.reserve(10);
  t.is(b.waitFor(5000), 60_000); // bigger than a minute's budget: waits for an empty window
});

test('token budget reserve() waits for the window to roll', async (t) => {
  const b = new TokenBudget(100, Date.now, 150);
  await b.reserve(80);
  const t0 = Date.now();
  await b.reserve(80);
  t.true(Date.now() - t0 >= 100);
});

test('scrub masks registered secrets, bearer tokens and sk- keys', (t) => {
  registerSecret('hunter2-secret-value');
  t.is(scrub('bad key hunter2-secret-value!'), 'bad key ***!');
  t.is(scrub('Authorization: Bearer abc.def'), 'Authorization: Bearer ***');
  t.is(scrub('key sk-ABCDEFGH12345 rejected'), 'key sk-*** rejected');
});
