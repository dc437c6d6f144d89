/** The phi stage as the CLI (and `starword run`) drives it: options, model, text encoder, progress. */
import type { Command } from 'commander';
import { z } from 'zod';
import { resolve } from 'node:path';
import { createTextEncoder } from '../../clip/text-encoder.ts';
import type { ClipTokenizer } from '../../clip/tokenizer.ts';
import { tokenizerForModel } from '../../clip/tokenizer-fit.ts';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import type { ClipModel } from '../../clip/weights.ts';
import { SEARLE_PHI, type PhiOptions } from '../../stages/phi/options.ts';
import { type PhiSummary, runPhi } from '../../stages/phi/run-phi.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { sessionOptions } from '../model-loading.ts';
import { type CrossCheck, checkOptions, rule } from '../option-checks.ts';
import { floatOption, intOption, nonNegativeIntOption, positiveIntOption } from '../options.ts';
import { INPUT_NOISES } from '../../clip/training/input-noise.ts';
import { createProgress } from '../progress.ts';
import { cirrValidator } from './phi-validation.ts';

export interface PhiCliOptions {
  epochs: number; batch: number; lr: number; weightDecay: number; dropout: number;
  lambdaDistil: number; lambdaGpt: number; temperature: number; topK: number; valFraction: number;
  checkpointEvery: number; seed: number;
  /** a budget in steps beside the epochs (absent: none) */
  maxSteps?: number | null;
  /** noise on phi's input image features: none (SEARLE), lincir (U(0,1)·N(0,I)), gaussian (σ = noiseSigma) */
  inputNoise?: string; noiseSigma?: number;
  /** off by default: SEARLE's loader drops a short last batch */
  keepLastBatch?: boolean;
  /** CIRR folder (or its cap.rc2.val.json) for per-epoch validation, and the gallery index of its val images */
  valCirr?: string; valCirrIndex?: string;
  out?: string; phrasesDir?: string; threads?: number; cacheDir?: string; logJson?: boolean;
}

/** Flags beyond the numeric ones: [flag, key, help, takes a value]. */
const PHI_EXTRA_FLAGS: [flag: string, key: 'keepLastBatch' | 'valCirr' | 'valCirrIndex', help: string, value: boolean][] = [
  ['keep-last-batch', 'keepLastBatch', 'keep a short last batch (SEARLE drops it: drop_last=True)', false],
  ['val-cirr', 'valCirr', 'validate each epoch on CIRR val (the CIRR folder or its cap.rc2.val.json) and mark the best checkpoint', true],
  ['val-cirr-index', 'valCirrIndex', 'gallery index of the CIRR val images (a run folder of `starword index --images CIRR/dev`)', true],
];

type Parser = (value: string) => number;
const PHI_FLAGS: [flag: string, key: keyof PhiCliOptions, help: string, parse: Parser, dflt: (d: typeof SEARLE_PHI) => number][] = [
  ['epochs', 'epochs', 'training epochs', intOption, (d) => d.epochs],
  ['batch', 'batch', 'images per batch', positiveIntOption, (d) => d.batchSize],
  ['lr', 'lr', 'AdamW learning rate', floatOption, (d) => d.lr],
  ['weight-decay', 'weightDecay', 'AdamW weight decay', floatOption, (d) => d.weightDecay],
  ['dropout', 'dropout', 'dropout after each hidden GELU', floatOption, (d) => d.dropout],
  ['lambda-distil', 'lambdaDistil', 'weight of L_distil (NT-Xent against the OTI tokens)', floatOption, (d) => d.lambdaDistil],
  ['lambda-gpt', 'lambdaGpt', 'weight of L_gpt', floatOption, (d) => d.lambdaGpt],
  ['temperature', 'temperature', 'NT-Xent temperature', floatOption, (d) => d.temperature],
  ['top-k', 'topK', 'concepts per image whose phrases feed L_gpt', positiveIntOption, (d) => d.topK],
  ['val-fraction', 'valFraction', 'share of images held out (stable hash of the id)', floatOption, (d) => d.valFraction],
  ['checkpoint-every', 'checkpointEvery', 'epochs between checkpoints', positiveIntOption, (d) => d.checkpointEvery],
  ['seed', 'seed', 'seed of the initial weights, shuffles, dropout and phrase draws', intOption, (d) => d.seed],
];

function camel(flag: string): string { return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()); }

/**
 * Adds the phi training options (SEARLE's defaults) to a command. `prefix` ('phi-' in `starword run`,
 * where OTI owns --lr, --seed, ...) prefixes every flag; read them back with phiCliFrom.
 */
export function addPhiOptions(cmd: Command, prefix = ''): Command {
  for (const [flag, , help, parse, dflt] of PHI_FLAGS) cmd.option(`--${prefix}${flag} ${parse === floatOption ? '<x>' : '<n>'}`, `${prefix ? 'phi: ' : ''}${help}`, parse, dflt(SEARLE_PHI));
  for (const [flag, , help, value] of PHI_EXTRA_FLAGS) cmd.option(`--${prefix}${flag}${value ? ' <path>' : ''}`, `${prefix ? 'phi: ' : ''}${help}`);
  const p = prefix ? 'phi: ' : '';
  cmd.option(`--${prefix}max-steps <n>`, `${p}stop after this many optimizer steps in all (a budget beside --${prefix}epochs; default: none)`, nonNegativeIntOption)
    .option(`--${prefix}input-noise <kind>`, `${p}noise on the input image features: none (SEARLE), lincir (U(0,1)·N(0,I), LinCIR's), gaussian (σ = --${prefix}noise-sigma)`, SEARLE_PHI.inputNoise)
    .option(`--${prefix}noise-sigma <x>`, `${p}σ of --${prefix}input-noise gaussian`, floatOption, SEARLE_PHI.noiseSigma);
  return cmd;
}

/** The phi options of a command that added them with `prefix`. */
export function phiCliFrom(o: Record<string, unknown>, prefix = ''): Pick<PhiCliOptions, typeof PHI_FLAGS[number][1] | typeof PHI_EXTRA_FLAGS[number][1] | 'maxSteps' | 'inputNoise' | 'noiseSigma'> {
  const out: Record<string, unknown> = {};
  for (const [flag, key] of [...PHI_FLAGS, ...PHI_EXTRA_FLAGS]) out[key] = o[camel(`${prefix}${flag}`)];
  for (const key of ['maxSteps', 'inputNoise', 'noiseSigma']) out[key] = o[camel(`${prefix}${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)];
  return out as Pick<PhiCliOptions, typeof PHI_FLAGS[number][1] | typeof PHI_EXTRA_FLAGS[number][1] | 'maxSteps' | 'inputNoise' | 'noiseSigma'>;
}

/** phi's option rules, shared by `starword phi` and `starword run` (where the flags carry a phi- prefix). */
export const phiOptionsSchema = z.object({
  epochs: rule.nonNegativeInt(),
  batch: rule.int().refine((v) => v >= 2, { message: 'must be an integer ≥ 2 (NT-Xent contrasts rows)' }),
  lr: rule.positive(), weightDecay: rule.nonNegative(), dropout: rule.fraction(),
  lambdaDistil: rule.nonNegative(), lambdaGpt: rule.nonNegative(), temperature: rule.positive(),
  topK: rule.positiveInt(), valFraction: rule.fraction(), checkpointEvery: rule.positiveInt(), seed: rule.int(),
});

const phiCross: CrossCheck<PhiCliOptions>[] = [
  (o) => (o.lambdaDistil + o.lambdaGpt > 0 ? null : { key: 'lambdaGpt', message: 'and lambda-distil are both 0: nothing to train' }),
];

/** The flag of a phi option key as the command spells it ('valFraction' → '--phi-val-fraction' in `run`). */
export function phiFlag(prefix = ''): (key: string) => string {
  return (key) => `--${prefix}${PHI_FLAGS.find(([, k]) => k === key)?.[0] ?? key}`;
}

/** Checks every phi option (ranges included); throws a one-line UserError naming the flag. */
export function checkPhiCliOptions(o: Pick<PhiCliOptions, typeof PHI_FLAGS[number][1]>, prefix = ''): void {
  checkOptions(phiOptionsSchema, o, phiFlag(prefix), phiCross as CrossCheck<typeof o>[]);
}

export function phiOptionsFrom(o: PhiCliOptions, prefix = ''): PhiOptions {
  checkPhiCliOptions(o, prefix);
  if (o.inputNoise !== undefined && !(INPUT_NOISES as readonly string[]).includes(o.inputNoise)) {
    throw new UserError(`--${prefix}input-noise must be one of ${INPUT_NOISES.join(', ')}, got '${o.inputNoise}'`);
  }
  if (o.noiseSigma !== undefined && !(o.noiseSigma >= 0)) throw new UserError(`--${prefix}noise-sigma must be ≥ 0, got ${o.noiseSigma}`);
  return {
    epochs: o.epochs, batchSize: o.batch, lr: o.lr, weightDecay: o.weightDecay, dropout: o.dropout,
    lambdaDistil: o.lambdaDistil, lambdaGpt: o.lambdaGpt, temperature: o.temperature, topK: o.topK,
    valFraction: o.valFraction, checkpointEvery: o.checkpointEvery, seed: o.seed, dropLast: !o.keepLastBatch,
    maxSteps: o.maxSteps ?? null, inputNoise: (o.inputNoise ?? SEARLE_PHI.inputNoise) as PhiOptions['inputNoise'], noiseSigma: o.noiseSigma ?? SEARLE_PHI.noiseSigma,
  };
}

/** `shared` lets `run` pass the text encoder and tokenizer it already holds (one session, not two). */
export async function runPhiStage(runDir: string, model: ClipModel, o: PhiCliOptions, log: (line: string) => void,
  shared?: { text: TextEncoder; tokenizer: ClipTokenizer }): Promise<PhiSummary> {
  const sess = sessionOptions(o);
  const tokenizer = shared?.tokenizer ?? await tokenizerForModel(model);
  const text = shared?.text ?? await createTextEncoder(model, { ...sess, tokenizer });
  const ctx = model.config.text.ctx;
  if (!!o.valCirr !== !!o.valCirrIndex) {
    throw new UserError(o.valCirr ? '--val-cirr needs --val-cirr-index DIR: a gallery index of the CIRR val images (starword index --images CIRR/dev --out DIR)'
      : '--val-cirr-index needs --val-cirr DIR (the CIRR folder)');
  }
  const outDir = o.out ? resolve(o.out) : undefined;
  const validate = o.valCirr
    ? cirrValidator(resolve(o.valCirr), resolve(o.valCirrIndex!), text, sess, outDir ?? stageDir(runDir, 'phi'), log)
    : undefined;
  try {
    return await runPhi({
      runDir, outDir, src: model, text, tokenize: (t) => tokenizer.tokenize(t, ctx),
      options: phiOptionsFrom(o), phrasesDir: o.phrasesDir ? resolve(o.phrasesDir) : undefined,
      session: sess, progress: createProgress('phi', { logJson: o.logJson }), log, validate,
    });
  } finally {
    if (!shared) await text.release?.();
  }
}
