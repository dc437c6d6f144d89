/**
 * A progress bar on stderr, only when stderr is a terminal (logs and pipes stay clean).
 */
import { SingleBar, Presets } from 'cli-progress';

export type ProgressFn = (done: number, total: number) => void;

export interface Progress { update: ProgressFn; stop(): void }

export function stderrProgress(label: string, enabled: boolean = process.stderr.isTTY === true): Progress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  let bar: SingleBar | null = null;
  return {
    update(done, total) {
      if (!bar) {
        bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted}`,
          stream: process.stderr, hideCursor: true, etaBuffer: 50 }, Presets.shades_classic);
        bar.start(total, done);
      } else bar.update(done);
    },
    stop() { bar?.stop(); bar = null; },
  };
}
