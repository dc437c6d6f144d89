/**
 * Where a long stage reports progress. pipeline/progress.ts implements it (a bar, JSON lines, or
 * nothing); declared on the lowest floor because stages may not import the pipeline.
 */
export interface ProgressSink {
  /** `done` counts work already finished before this run (resumed parts), so rates count only new work. */
  start(total: number, done?: number): void;
  increment(n?: number): void;
  stop(): void;
}
