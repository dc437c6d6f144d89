/**
 * The one layer between a stage's declaration (stages/<stage>/stage.ts) and the command line: it derives
 * the stage's flags (its own command: `--<option>`; `starword run`: `--<stage>-<option>` when the stage is
 * prefixedInRun), adds the shared options, checks everything once, and for a stage run on a run folder
 * (`starword oti --run DIR`) takes the lock, guards and records run.json's config, sets up progress and
 * runs it. An error a stage raises that names one of its flags is re-spelt for the command it runs under.
 */
import { type Command, Option } from 'commander';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { z } from 'zod';
import type { ClipModel } from '../clip/weights/clip-model.ts';
import type { StageContext, StageDefinition } from '../stages/stage.ts';
import { UserError } from '../util/errors.ts';
import { loadClipModel } from '../clip/weights/clip-model.ts';
import { createProgress } from './progress.ts';
import { checkTopKAgainstRun, finishStage, guardStageRun, readRunManifest, startStage, underLock } from './run-manifest.ts';
import { describeDevice, deviceName, openDevice } from '../clip/runtime/device.ts';
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
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function stageOptionsFrom<S extends z.ZodObject>(def: StageDefinition<S, any, any, any>, raw: Record<string, unknown>, inRun = false): z.output<S> {
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

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `starword <stage> --run DIR --model DIR [options]`: the stage alone on a run folder, resumable, under
 * the same guard as `run` (one writer; no silent change of options or model). The command is derived
 * from the definition's `runFolder` (stages/stage.ts), so a stage that has one needs no command file.
 */
export function registerRunFolderStage<S extends z.ZodObject, R, I extends { phrasesDir?: string }>(program: Command,
  def: StageDefinition<S, R, I>): void {
  const spec = def.runFolder;
  if (!spec) throw new Error(`stage ${def.name} declares no runFolder command`);
  const cmd = program.command(def.name).description(def.summary).requiredOption('--run <dir>', spec.runHelp);
  const pathFlags = spec.paths.map((p) => {
    const option = new Option(p.flags, p.help);
    cmd.addOption(option);
    return { attribute: option.attributeName(), input: p.input };
  });
  addStageOptions(cmd, def as AnyStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson', 'force'], requireModel: true });
  cmd.action(async (raw: Record<string, unknown>) => {
    const options = stageOptionsFrom(def, raw); // every option checked, before the model is loaded
    const shared = sharedOptionsFrom(raw);
    const runDir = resolve(raw.run as string);
    const inputs: Record<string, unknown> = {};
    for (const p of pathFlags) if (raw[p.attribute] !== undefined) inputs[p.input] = raw[p.attribute];
    const typedInputs = inputs as I;
    if (spec.topK) checkTopKAgainstRun(runDir, options[spec.topK] as number, stageFlag(def as AnyStage, spec.topK));
    const model = await loadClipModel(resolve(shared.model!));
    // a device that cannot start stops here, before the lock and any work
    const device = await openDevice(shared.device, shared.cacheDir);
    if (device.device !== 'cpu') process.stderr.write(`device: ${describeDevice(device)}\n`);
    const out = spec.out && typeof inputs[spec.out] === 'string' ? resolve(inputs[spec.out] as string) : undefined;
    const lock = guardStageRun(runDir, def.name, def.config(options), model.hash, shared.force, out);
    // an output folder elsewhere gets its own lock
    const others = out && !isInside(out, runDir) ? [underLock(out, def.name, () => undefined).lock] : [];
    try {
      const lambdaGpt = spec.lambdaGpt ? options[spec.lambdaGpt] as number : undefined;
      const warning = lambdaGpt === undefined ? null : templatePartsWarning(resolve(typedInputs.phrasesDir ?? join(runDir, 'phrases')), model.dir, lambdaGpt);
      if (warning) {
        process.stderr.write(`warning: ${warning}\n`);
        recordRunWarning(runDir, warning);
      }
      const log = (l: string): void => { process.stderr.write(`${l}\n`); };
      // the stage's time, counts and device go to run.json as under `run` (a folder without one records nothing)
      const recorded = readRunManifest(runDir) !== null;
      if (recorded) startStage(runDir, def.name, deviceName(device));
      const t0 = performance.now();
      const result = await runStage(def, stageContext(runDir, model, shared, typedInputs, log), options);
      if (recorded) finishStage(runDir, def.name, { seconds: (performance.now() - t0) / 1000, counts: def.counts(result), resumedCounts: def.resumedCounts });
      process.stdout.write(`${spec.resultLine(result)}\n`);
    } finally {
      for (const l of others) l.release();
      lock.release();
    }
  });
}
