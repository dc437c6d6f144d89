/**
 * Where a long stage reports progress. pipeline/progress.ts implements it (a bar on a TTY, JSON lines
 * under --log-json, a closing summary line otherwise); declared on the lowest floor because stages may
 * not import the pipeline.
 */
export interface ProgressSink {
  /** `done` counts work already finished before this run (resumed parts), so rates count only new work. */
  start(total: number, done?: number): void;
  /** `n` items finished, with an outcome (e.g. 'ok', 'failed', 'cached') when the stage tells them apart. */
  increment(n?: number, status?: string): void;
  /** One retried request, by cause ('429', 'timeout', …): summarised, never a line each. */
  retry?(cause: string): void;
  stop(): void;
}

/** Counts by key as "12 retries (429: 10, timeout: 2)"-style text: "10 ok, 2 failed" or "429: 10, timeout: 2". */
export function formatCounts(counts: Record<string, number>, style: 'list' | 'keyed'): string {
  return Object.entries(counts).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => (style === 'list' ? `${v} ${k}` : `${k}: ${v}`)).join(', ');
}

/** "12 retries (429: 10, timeout: 2)", or '' when there were none. */
export function retrySummary(retries: Record<string, number>): string {
  const total = Object.values(retries).reduce((s, v) => s + v, 0);
  return total === 0 ? '' : `${total} ${total === 1 ? 'retry' : 'retries'} (${formatCounts(retries, 'keyed')})`;
}
