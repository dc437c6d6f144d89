import test from 'ava';
import { PassThrough } from 'node:stream';
import { type ProgressLine, createProgress } from '../../pipeline/progress.ts';

function capture(): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('--log-json: JSON lines with stage, done, total, rate and ETA, throttled, final line at stop', (t) => {
  const out = capture();
  let now = 0;
  const p = createProgress('embed', { logJson: true, stream: out.stream, intervalMs: 1000, now: () => now });
  p.start(100, 20); // 20 done before this run (resumed parts)
  now = 500; p.increment(10); // throttled
  now = 2000; p.increment(10);
  now = 4000; p.increment(40);
  now = 4500; p.increment(20); // throttled, then reported by stop()
  p.stop();
  p.stop();
  const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as ProgressLine);
  t.deepEqual(lines.map((l) => l.done), [20, 40, 80, 100]);
  t.is(lines[3].eta_s, 0);
  t.deepEqual(lines[0], { stage: 'embed', done: 20, total: 100, rate: 0, eta_s: null });
  t.deepEqual(lines[1], { stage: 'embed', done: 40, total: 100, rate: 10, eta_s: 6 });
  t.deepEqual(lines[2], { stage: 'embed', done: 80, total: 100, rate: 15, eta_s: 1 });
});

test('quiet when the stream is not a TTY and JSON is not asked for', (t) => {
  const out = capture();
  const p = createProgress('embed', { stream: out.stream });
  p.start(10);
  p.increment(5);
  p.stop();
  t.is(out.text(), '');
});

test('a bar with rate and ETA on a TTY', (t) => {
  const out = capture();
  Object.assign(out.stream, { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  const p = createProgress('embed', { stream: out.stream });
  p.start(10);
  p.increment(5);
  p.stop();
  t.regex(out.text(), /embed\s+\[.*\] \d+% \| 5\/10 \| [\d.]+\/s \| ETA/);
});

test('outcomes and retries: in the JSON lines, on the bar, and as one closing line in a log file', (t) => {
  const feed = (p: ReturnType<typeof createProgress>) => {
    p.start(3);
    p.increment(1, 'ok');
    for (const cause of ['429', '429', 'timeout']) p.retry?.(cause);
    p.increment(1, 'ok');
    p.increment(1, 'failed');
    p.stop();
  };
  const json = capture();
  let now = 0;
  feed(createProgress('phrases', { logJson: true, stream: json.stream, now: () => now++ }));
  const last = JSON.parse(json.text().trim().split('\n').at(-1)!) as ProgressLine;
  t.deepEqual(last.counts, { ok: 2, failed: 1 });
  t.deepEqual(last.retries, { 429: 2, timeout: 1 });

  const log = capture();
  feed(createProgress('phrases', { stream: log.stream, unit: 'concepts', now: () => 0 }));
  t.is(log.text(), 'phrases: 3/3 concepts (2 ok, 1 failed); 3 retries (429: 2, timeout: 1)\n');

  const tty = capture();
  Object.assign(tty.stream, { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  feed(createProgress('phrases', { stream: tty.stream }));
  t.regex(tty.text(), /3\/3 .*2 ok, 1 failed; 3 retries \(429: 2, timeout: 1\)/);
});

test('a log file of a long run gets a line a minute at most, not one per item', (t) => {
  const log = capture();
  let now = 0;
  const p = createProgress('phrases', { stream: log.stream, unit: 'concepts', now: () => now });
  p.start(1000);
  for (let i = 0; i < 1000; i++) { now += 100; p.increment(1, 'ok'); } // 100 s in all
  p.stop();
  t.deepEqual(log.text().trim().split('\n'), ['phrases: 600/1000 concepts (600 ok)', 'phrases: 1000/1000 concepts (1000 ok)']);
});
