/**
 * The one layer between a stage's declaration (stages/<stage>/stage.ts) and the command line: it derives
 * the stage's flags (its own command: `--<option>`; `starword run`: `--<stage>-<option>` when the stage is
 * prefixedInRun), adds the shared options, checks everything once, and for a stage run on a run folder
 * (`starword oti --run DIR`) takes the lock, guards and records run.json's config, sets up progress and
 * runs it. An error a stage raises that names one of its flags is re-spelt for the command it runs under.
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import type { ClipModel } from '../clip/weights/clip-model.ts';
import type { StageContext, StageDefinition } from '../stages/stage.ts';
import { UserError } from '../util/errors.ts';
import { loadClipModel } from '../clip/weights/clip-model.ts';
import { createProgress } from './progress.ts';
import { guardStageRun, underLock } from './run-manifest.ts';
import { recordRunWarning, templatePartsWarning } from './run-warnings.ts';
import { addSchemaOptions, checkSchemaOptions, flagOf, optionFields, schemaValues } from './schema-flags.ts';
import { type SharedOptions, addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from './shared-options.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStage = StageDefinition<z.ZodObject, any, any, any>;

/** The prefix of a stage's flags: '' in its own command; `<name>-` in `run` for a prefixed stage. */
export function stagePrefix(def: AnyStage, inRun: boolean): string {
  return inRun && def.prefixedInRun ? `${def.name}-` : '';
}

/** A stage option's flag as a command spells it. */
export function stageFlag(def: AnyStage, key: string, inRun = false): string {
  return flagOf(key, stagePrefix(def, inRun));
}

/** Adds a stage's options to a command (its own, or `run` with the derived prefix). */
export function addStageOptions(cmd: Command, def: AnyStage, inRun = false): Command {
  return addSchemaOptions(cmd, def.options, { prefix: stagePrefix(def, inRun), helpPrefix: inRun && def.prefixedInRun ? `${def.name}: ` : '' });
}

/** A stage's options out of commander's parsed options, checked once (one-line error naming the flag as typed). */
export function stageOptionsFrom<S extends z.ZodObject>(def: StageDefinition<S, unknown, unknown, unknown>, raw: Record<string, unknown>, inRun = false): z.output<S> {
  const prefix = stagePrefix(def as AnyStage, inRun);
  return checkSchemaOptions(def.options, schemaValues(raw, def.options, prefix), prefix, def.cross);
}

/**
 * `message` with the stage's own flags (`--batch`) re-spelt as `run` spells them (`--phi-batch`), so that
 * an error raised deep in a stage names a flag the command has.
 */
export function respellFlags(message: string, def: AnyStage, inRun: boolean): string {
  const prefix = stagePrefix(def, inRun);
  if (!prefix) return message;
  let out = message;
  for (const f of optionFields(def.options)) {
    const own = flagOf(f.key);
    out = out.replace(new RegExp(`(?<![\\w-])${own}(?![\\w-])`, 'g'), flagOf(f.key, prefix));
  }
  return out;
}

/** Runs a stage; a UserError it raises names flags as the command in use spells them. */
export async function runStage<R, I, M>(def: StageDefinition<z.ZodObject, R, I, M>, ctx: StageContext<I, M>, options: unknown, inRun = false): Promise<R> {
  try {
    return await def.run(ctx, options as never);
  } catch (err) {
    if (err instanceof UserError) {
      const respelt = respellFlags(err.message, def as AnyStage, inRun);
      if (respelt !== err.message) throw new UserError(respelt, err.exitCode);
    }
    throw err;
  }
}

/** Runs a stage that writes one folder (`ctx.runDir`) outside a run: one writer, released however it ends. */
export async function runStageLocked<R, I, M>(def: StageDefinition<z.ZodObject, R, I, M>, ctx: StageContext<I, M>, options: unknown): Promise<R> {
  const { lock } = underLock(ctx.runDir, def.name, () => undefined);
  try {
    return await runStage(def, ctx, options);
  } finally {
    lock.release();
  }
}

/** The context a stage runs in: session options from the shared flags, progress as they ask. */
export function stageContext<I, M = ClipModel>(runDir: string, model: M, shared: SharedOptions, inputs: I,
  log: (line: string) => void, extra: Pick<StageContext<I, M>, 'shared'> = {}): StageContext<I, M> {
  return {
    runDir, model, session: sessionOptionsFrom(shared), log, inputs, ...extra,
    progress: (label, unit) => createProgress(label, { logJson: shared.logJson, unit }),
  };
}

export interface RunFolderCommand<S extends z.ZodObject, R, I> {
  /** --run's help: which stages must be done */
  runHelp: string;
  /** the command's own input options (paths), beyond the stage's and the shared ones */
  inputs?: (cmd: Command) => Command;
  /** the stage's inputs out of commander's options */
  inputsFrom(raw: Record<string, unknown>, runDir: string): I;
  /** checks against the run folder, before the model is loaded */
  check?(runDir: string, options: z.output<S>): void;
  /** the λ_gpt the stage regularises with (for the template-phrases warning), when it reads phrases */
  lambdaGpt?(options: z.output<S>): number;
  /** where the stage writes, when not <run>/<stage> (its options are compared only once something is there) */
  outputDir?(runDir: string, inputs: I): string | undefined;
  /** locks of other folders the stage writes (released after the run) */
  extraLocks?(runDir: string, inputs: I): { release(): void }[];
  /** the summary line on stdout */
  summary(result: R): string;
}

/**
 * `starword <stage> --run DIR --model DIR [options]`: the stage alone on a run folder, resumable, under
 * the same guard as `run` (one writer; no silent change of options or model).
 */
export function registerRunFolderStage<S extends z.ZodObject, R, I extends { phrasesDir?: string }>(program: Command,
  def: StageDefinition<S, R, I>, spec: RunFolderCommand<S, R, I>): void {
  let cmd = program.command(def.name).description(def.summary).requiredOption('--run <dir>', spec.runHelp);
  cmd = spec.inputs ? spec.inputs(cmd) : cmd;
  addStageOptions(cmd, def as AnyStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson', 'force'], requireModel: true });
  cmd.action(async (raw: Record<string, unknown>) => {
    const options = stageOptionsFrom(def, raw); // every option checked, before the model is loaded
    const shared = sharedOptionsFrom(raw);
    const runDir = resolve(raw.run as string);
    const inputs = spec.inputsFrom(raw, runDir);
    spec.check?.(runDir, options);
    const model = await loadClipModel(resolve(shared.model!));
    const lock = guardStageRun(runDir, def.name, def.config(options), model.hash, shared.force, spec.outputDir?.(runDir, inputs));
    const others = spec.extraLocks?.(runDir, inputs) ?? [];
    try {
      const lambdaGpt = spec.lambdaGpt?.(options);
      const warning = lambdaGpt === undefined ? null : templatePartsWarning(resolve(inputs.phrasesDir ?? join(runDir, 'phrases')), model.dir, lambdaGpt);
      if (warning) {
        process.stderr.write(`warning: ${warning}\n`);
        recordRunWarning(runDir, warning);
      }
      const log = (l: string): void => { process.stderr.write(`${l}\n`); };
      const result = await runStage(def, stageContext(runDir, model, shared, inputs, log), options);
      process.stdout.write(`${spec.summary(result)}\n`);
    } finally {
      for (const l of others) l.release();
      lock.release();
    }
  });
}
