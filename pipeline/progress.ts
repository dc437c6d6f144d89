/**
 * The one progress reporter, on stderr, three ways:
 *  - `logJson`: one JSON line per update (at most one a second, plus the start and the end):
 *    {"stage","done","total","rate","eta_s"}, plus "counts" (outcomes) and "retries" (by cause) once
 *    there are any; for schedulers and dashboards;
 *  - a cli-progress bar with rate, ETA, outcomes and retries when the stream is a TTY;
 *  - otherwise (a log file): no line per item or retry; with `unit`, one closing line such as
 *    "phrases: 30/30 concepts (28 ok, 2 failed); 12 retries (429: 10, timeout: 2)", and at most one
 *    line a minute while it runs, so a long run shows it is alive. Stages print their own line per part.
 * Rates count only this run's work: parts found done on resume are in `done` from the start.
 */
import cliProgress from 'cli-progress';
import { type ProgressSink, formatCounts, retrySummary } from '../util/progress-sink.ts';

export type { ProgressSink };

export interface ProgressOptions {
  logJson?: boolean;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** override the TTY test (tests) */
  tty?: boolean;
  /** minimum milliseconds between JSON lines (default 1000) */
  intervalMs?: number;
  /** clock in milliseconds (tests) */
  now?: () => number;
  /** what is counted ('concepts'): without it, a non-TTY stream gets no line at all */
  unit?: string;
  /** minimum milliseconds between lines on a non-TTY stream (default 60 000) */
  lineIntervalMs?: number;
}

export interface ProgressLine {
  stage: string;
  done: number;
  total: number;
  /** items per second since the start of this run */
  rate: number;
  /** seconds left at that rate, null before anything was done */
  eta_s: number | null;
  /** outcomes so far ('ok', 'failed', …), when the stage reports them */
  counts?: Record<string, number>;
  /** retried requests by cause ('429', 'timeout', …), when there were any */
  retries?: Record<string, number>;
}

/** Outcome and retry tallies that every mode shows. */
class Tally {
  readonly counts: Record<string, number> = {};
  readonly retries: Record<string, number> = {};
  count(n: number, status?: string): void { if (status) this.counts[status] = (this.counts[status] ?? 0) + n; }
  retry(cause: string): void { this.retries[cause] = (this.retries[cause] ?? 0) + 1; }
  /** "28 ok, 2 failed; 12 retries (429: 10, timeout: 2)" (either half may be absent) */
  text(): string {
    return [formatCounts(this.counts, 'list'), retrySummary(this.retries)].filter(Boolean).join('; ');
  }
}

export function createProgress(stage: string, opts: ProgressOptions = {}): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  if (opts.logJson) return new JsonProgress(stage, stream, opts.intervalMs ?? 1000, opts.now ?? (() => performance.now()));
  if (opts.tty ?? stream.isTTY === true) return new BarProgress(stage, stream);
  if (opts.unit) return new LineProgress(stage, opts.unit, stream, opts.lineIntervalMs ?? 60_000, opts.now ?? (() => performance.now()));
  return { start() {}, increment() {}, retry() {}, stop() {} };
}

class JsonProgress implements ProgressSink {
  private total = 0;
  private done = 0;
  private initial = 0;
  private t0 = 0;
  private lastEmit = -Infinity;
  private lastDone = -1;
  private lastTally = '';
  private running = false;
  private readonly tally = new Tally();

  constructor(private readonly stage: string, private readonly stream: NodeJS.WritableStream,
    private readonly intervalMs: number, private readonly now: () => number) {}

  start(total: number, done = 0): void {
    this.total = total;
    this.done = done;
    this.initial = done;
    this.t0 = this.now();
    this.running = true;
    this.emit(true);
  }

  increment(n = 1, status?: string): void {
    this.done += n;
    this.tally.count(n, status);
    this.emit(false);
  }

  retry(cause: string): void {
    this.tally.retry(cause);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    // the last update may have been throttled, or retries came after it
    if (this.done !== this.lastDone || this.tally.text() !== this.lastTally) this.emit(true);
  }

  private emit(force: boolean): void {
    const t = this.now();
    if (!force && t - this.lastEmit < this.intervalMs) return;
    this.lastEmit = t;
    this.lastDone = this.done;
    this.lastTally = this.tally.text();
    const elapsed = (t - this.t0) / 1000;
    const rate = elapsed > 0 ? (this.done - this.initial) / elapsed : 0;
    const line: ProgressLine = {
      stage: this.stage, done: this.done, total: this.total, rate: Math.round(rate * 100) / 100,
      eta_s: rate > 0 ? Math.round(Math.max(0, this.total - this.done) / rate) : null,
      ...(Object.keys(this.tally.counts).length ? { counts: { ...this.tally.counts } } : {}),
      ...(Object.keys(this.tally.retries).length ? { retries: { ...this.tally.retries } } : {}),
    };
    this.stream.write(`${JSON.stringify(line)}\n`);
  }
}

class BarProgress implements ProgressSink {
  private readonly bar: cliProgress.SingleBar;
  private readonly tally = new Tally();
  private initial = 0;
  private t0 = 0;
  private done = 0;

  constructor(stage: string, stream: NodeJS.WritableStream) {
    this.bar = new cliProgress.SingleBar({
      format: `${stage.padEnd(8)} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}{tally}`,
      stream: stream as NodeJS.WriteStream,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    }, cliProgress.Presets.shades_classic);
  }

  start(total: number, done = 0): void {
    this.initial = done;
    this.done = done;
    this.t0 = performance.now();
    this.bar.start(total, done, { rate: '0', tally: '' });
  }

  increment(n = 1, status?: string): void {
    this.done += n;
    this.tally.count(n, status);
    this.redraw();
  }

  retry(cause: string): void {
    this.tally.retry(cause);
    this.redraw();
  }

  stop(): void {
    this.bar.stop();
  }

  private redraw(): void {
    const elapsed = (performance.now() - this.t0) / 1000;
    const tally = this.tally.text();
    this.bar.update(this.done, { rate: elapsed > 0 ? ((this.done - this.initial) / elapsed).toFixed(1) : '0', tally: tally ? ` | ${tally}` : '' });
  }
}

/** A log file's progress: a line a minute at most while running, and one closing line. */
class LineProgress implements ProgressSink {
  private readonly tally = new Tally();
  private total = 0;
  private done = 0;
  private lastLine = 0;
  private running = false;

  constructor(private readonly stage: string, private readonly unit: string, private readonly stream: NodeJS.WritableStream,
    private readonly intervalMs: number, private readonly now: () => number) {}

  start(total: number, done = 0): void {
    this.total = total;
    this.done = done;
    this.lastLine = this.now();
    this.running = true;
  }

  increment(n = 1, status?: string): void {
    this.done += n;
    this.tally.count(n, status);
    if (this.now() - this.lastLine >= this.intervalMs) this.line();
  }

  retry(cause: string): void {
    this.tally.retry(cause);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.line();
  }

  private line(): void {
    this.lastLine = this.now();
    const counts = formatCounts(this.tally.counts, 'list');
    const retries = retrySummary(this.tally.retries);
    this.stream.write(`${this.stage}: ${this.done}/${this.total} ${this.unit}${counts ? ` (${counts})` : ''}${retries ? `; ${retries}` : ''}\n`);
  }
}
