/**
 * One declaration per stage. A stage folder's `stage.ts` exports a StageDefinition: what it reads and
 * writes, its options as ONE zod object (each field: its rule, `.default(SEARLE's value)` and
 * `.meta({ help, searle? })`), and one `run`. The CLI layer (pipeline/stage-command.ts) derives the stage's
 * command and its share of `starword run`'s flags from it, adds the shared options (--model, --threads,
 * --device, --cache-dir, --log-json, --force), validates once, takes the lock, writes the manifest and
 * sets up progress; the stage itself sees only checked options and a context.
 */
import type { z } from 'zod';
import type { TextEncoder } from '../clip/towers/encoder-types.ts';
import type { SessionOptions } from '../clip/runtime/onnx-session.ts';
import type { ClipTokenizer } from '../clip/text/tokenizer.ts';
import type { ClipModel } from '../clip/weights/clip-model.ts';
import type { CrossCheck } from '../util/option-rules.ts';
import type { ProgressSink } from '../util/progress-sink.ts';

/** What the CLI layer hands a stage's `run`. */
export interface StageContext<Inputs = Record<string, never>, Model = ClipModel> {
  /** the run folder the stage reads and writes */
  runDir: string;
  /** the CLIP model (ingest needs none; phrases only when target features are asked for) */
  model: Model;
  /** threads, device and graph cache of every ONNX Runtime session the stage opens */
  session: SessionOptions;
  log(line: string): void;
  /**
   * a progress sink for a long loop ('oti', 'vocabulary features'): a bar, JSON lines, or, with the
   * `unit` it counts ('concepts'), a closing summary line in a log file (pipeline/progress.ts)
   */
  progress(label: string, unit?: string): ProgressSink;
  /** the text encoder and tokenizer `run` already holds for the text stages (one session, not one each) */
  shared?: { text: TextEncoder; tokenizer: ClipTokenizer };
  /** what the stage reads that is not an option: paths its command takes, what earlier stages made */
  inputs: Inputs;
}

export interface StageDefinition<Schema extends z.ZodObject = z.ZodObject, Result = unknown, Inputs = never, Model = ClipModel> {
  /** the stage's (and its command's) name; `run` prefixes its options with `<name>-` when `prefixedInRun` */
  name: string;
  /** the command's one-line description */
  summary: string;
  /** part kinds read and written */
  input: readonly string[];
  output: readonly string[];
  /** every option of the stage: rule, SEARLE default and help, one field each */
  options: Schema;
  /** rules between options; the first broken one is reported on its `key`'s flag */
  cross?: CrossCheck<z.output<Schema>>[];
  /**
   * In `starword run`, this stage's options are `--<name>-<option>` (phi's --lr, --seed, ... would collide
   * with OTI's). The prefix comes from `name`; a test checks that the unprefixed stages never collide.
   */
  prefixedInRun?: boolean;
  /** what run.json records of the options (the part of the fingerprint that decides results) */
  config(options: z.output<Schema>): object;
  run(ctx: StageContext<Inputs, Model>, options: z.output<Schema>): Promise<Result>;
  /** the counts run.json records of a result */
  counts(result: Result): Record<string, number>;
  /**
   * The counts of `counts` that a session reports for the work it did itself (what it embedded, inverted,
   * requested now): run.json adds them up over resumes, like the seconds, so count / seconds stays the
   * stage's throughput. Every other count is a total of the whole output (parts, images) and is replaced.
   */
  resumedCounts?: readonly string[];
}

/** The options a definition's schema yields once checked (defaults filled in). */
export type StageOptions<D> = D extends StageDefinition<infer S, unknown, unknown, unknown> ? z.output<S> : never;
