/**
 * Progress on stderr, three ways:
 *  - `logJson`: one JSON line per update (at most one a second, plus the start and the end):
 *    {"stage","done","total","rate","eta_s"}; for schedulers and dashboards;
 *  - a cli-progress bar with rate and ETA when the stream is a TTY;
 *  - nothing otherwise (a log file should not fill with bar redraws).
 * Rates count only this run's work: parts found done on resume are in `done` from the start.
 */
import cliProgress from 'cli-progress';
import type { ProgressSink } from '../util/progress-sink.ts';

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
}

export interface ProgressLine {
  stage: string;
  done: number;
  total: number;
  /** items per second since the start of this run */
  rate: number;
  /** seconds left at that rate, null before anything was done */
  eta_s: number | null;
}

export function createProgress(stage: string, opts: ProgressOptions = {}): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  if (opts.logJson) return new JsonProgress(stage, stream, opts.intervalMs ?? 1000, opts.now ?? (() => performance.now()));
  if (opts.tty ?? stream.isTTY === true) return new BarProgress(stage, stream);
  return { start() {}, increment() {}, stop() {} };
}

class JsonProgress implements ProgressSink {
  private total = 0;
  private done = 0;
  private initial = 0;
  private t0 = 0;
  private lastEmit = -Infinity;
  private lastDone = -1;
  private running = false;

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

  increment(n = 1): void {
    this.done += n;
    this.emit(false);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.done !== this.lastDone) this.emit(true); // the last update may have been throttled
  }

  private emit(force: boolean): void {
    const t = this.now();
    if (!force && t - this.lastEmit < this.intervalMs) return;
    this.lastEmit = t;
    this.lastDone = this.done;
    const elapsed = (t - this.t0) / 1000;
    const rate = elapsed > 0 ? (this.done - this.initial) / elapsed : 0;
    const line: ProgressLine = {
      stage: this.stage, done: this.done, total: this.total, rate: Math.round(rate * 100) / 100,
      eta_s: rate > 0 ? Math.round(Math.max(0, this.total - this.done) / rate) : null,
    };
    this.stream.write(`${JSON.stringify(line)}\n`);
  }
}

class BarProgress implements ProgressSink {
  private readonly bar: cliProgress.SingleBar;
  private initial = 0;
  private t0 = 0;
  private done = 0;

  constructor(stage: string, stream: NodeJS.WritableStream) {
    this.bar = new cliProgress.SingleBar({
      format: `${stage.padEnd(8)} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
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
    this.bar.start(total, done, { rate: '0' });
  }

  increment(n = 1): void {
    this.done += n;
    const elapsed = (performance.now() - this.t0) / 1000;
    this.bar.update(this.done, { rate: elapsed > 0 ? ((this.done - this.initial) / elapsed).toFixed(1) : '0' });
  }

  stop(): void {
    this.bar.stop();
  }
}
