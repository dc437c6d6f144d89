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
  /** `starword <name> --run DIR`: the stage alone on a run folder (oti, phi), as data; no command file */
  runFolder?: RunFolderCommand<z.output<Schema>, Result, Inputs>;
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

/** A path flag of a stage's own command: where it reads or writes (not one of its options). */
export interface StagePathFlag<Inputs> {
  /** commander's spelling, e.g. '--phrases <dir>' */
  flags: string;
  help: string;
  /** the input it sets; of two flags that set the same input, the later one in the list wins when both are given */
  input: keyof Inputs & string;
}

/**
 * How `starword <stage> --run DIR` runs the stage alone on a run folder. pipeline/stage-command.ts
 * (registerRunFolderStage) derives the whole command from it: --run, these path flags, the stage's options,
 * the shared ones; the checks, the lock, run.json and the summary line.
 */
export interface RunFolderCommand<Options, Result, Inputs> {
  /** --run's help: which stages must be done */
  runHelp: string;
  paths: StagePathFlag<Inputs>[];
  /** the option of concepts per image, refused above the concepts the run kept */
  topK?: keyof Options & string;
  /** the option weighing L_gpt, when the stage reads phrases (a run on template phrases is warned about) */
  lambdaGpt?: keyof Options & string;
  /** the input that moves the output folder off <run>/<name>; one outside the run gets its own lock */
  out?: keyof Inputs & string;
  /** the line printed on stdout when the stage is done */
  resultLine(result: Result): string;
}

/** The options a definition's schema yields once checked (defaults filled in). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StageOptions<D> = D extends StageDefinition<infer S, any, any, any> ? z.output<S> : never;
