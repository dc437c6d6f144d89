/**
 * The options every model-running command shares, declared once: --model, --threads, --device,
 * --cache-dir, --log-json, --force. A command names the ones it takes (addSharedOptions) and reads them
 * back checked (sharedOptionsFrom); sessionOptionsFrom turns them into what every ONNX Runtime session
 * of the command gets, so --device reaches each encoder and trainer.
 */
import type { Command } from 'commander';
import { cpus } from 'node:os';
import { z } from 'zod';
import { DEVICES, type Device, type SessionOptions } from '../clip/runtime/onnx-session.ts';
import { rule } from '../util/option-rules.ts';
import { positiveIntOption } from './options.ts';
import { addSchemaOptions, checkSchemaOptions, schemaValues } from './schema-flags.ts';

export const sharedOptionsSchema = z.object({
  model: z.string().optional().meta({ help: 'Hugging Face CLIP folder (config.json + model.safetensors)', value: '<dir>' }),
  threads: rule.positiveInt().optional().meta({ help: 'ONNX Runtime intra-op threads (default: all cores)' }),
  // 'auto' is replaced by the device it picks before a command's action runs (cli.ts): commands see cpu, webgpu or cuda
  device: rule.oneOf([...DEVICES, 'auto']).default('cpu').meta({
    help: `ONNX Runtime execution provider: ${DEVICES.join(' | ')} | auto (a hardware GPU that starts, WebGPU first, else the CPU; never a software adapter such as lavapipe)`,
    value: '<name>',
  }),
  cacheDir: z.string().optional().meta({ help: 'graph and vocabulary-feature cache (default $STARWORD_CACHE_DIR or ~/.cache/starword)', value: '<dir>' }),
  logJson: z.boolean().default(false).meta({ help: 'progress as JSON lines on stderr' }),
  force: z.boolean().default(false).meta({ help: 'accept options or a model other than the run folder recorded (what differs is redone; results may mix)' }),
});

export type SharedKey = keyof typeof sharedOptionsSchema.shape;
export type SharedOptions = Omit<z.output<typeof sharedOptionsSchema>, 'device'> & { device: Device };

/** Every shared option but --force: what a command that runs a model and writes no run folder takes. */
export const MODEL_OPTIONS: SharedKey[] = ['model', 'threads', 'device', 'cacheDir', 'logJson'];

export interface SharedOptionsSpec {
  /** the shared options this command takes */
  keys: readonly SharedKey[];
  /** --model is required (default: optional) */
  requireModel?: boolean;
  /** a help text that says what the option means for this command */
  help?: Partial<Record<SharedKey, string>>;
}

/** Adds the named shared options to `cmd`. */
export function addSharedOptions(cmd: Command, spec: SharedOptionsSpec): Command {
  const shape: Record<string, z.ZodType> = {};
  for (const key of spec.keys) {
    const field = sharedOptionsSchema.shape[key];
    const help = spec.help?.[key];
    shape[key] = help ? field.meta({ ...(field.meta() as object), help }) : field;
  }
  addSchemaOptions(cmd, z.object(shape));
  if (spec.requireModel) cmd.options.find((o) => o.long === '--model')!.makeOptionMandatory();
  return cmd;
}

/** The shared options out of commander's parsed options, checked. */
export function sharedOptionsFrom(raw: Record<string, unknown>): SharedOptions {
  const o = checkSchemaOptions(sharedOptionsSchema, schemaValues(raw, sharedOptionsSchema));
  if (o.device === 'auto') throw new Error('--device auto reached a command unresolved (cli.ts resolves it before the action)');
  return { ...o, device: o.device };
}

/** What every ONNX Runtime session of a command gets: threads, device, graph cache. */
export function sessionOptionsFrom(o: { threads?: number; device?: SessionOptions['device']; cacheDir?: string }): Required<Pick<SessionOptions, 'threads'>> & SessionOptions {
  return { threads: o.threads ?? cpus().length, device: o.device ?? 'cpu', cacheDir: o.cacheDir };
}

/** The model options of the query commands (retrieve, evaluate, submission): the shared ones and --block-rows. */
export function addQueryModelOptions(cmd: Command): Command {
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir'] });
  return cmd.option('--block-rows <n>', 'gallery rows scored per block (bounds memory)', positiveIntOption, 8192);
}
