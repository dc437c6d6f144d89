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
