/**
 * phi, one declaration: its training options (SEARLE's defaults, src/train_phi.py's argparse), what it
 * reads and writes, and its run: the text encoder, optional CIRR validation, and the trainer (run-phi.ts).
 * In `starword run` its options are --phi-<option> (derived from the name: --lr, --seed, ... are OTI's there).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { tokenizerForModel } from '../../clip/text/tokenizer-fit.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { INPUT_NOISES } from '../../clip/training/input-noise.ts';
import { rule } from '../../util/option-rules.ts';
import type { NoPhrasesInputs } from '../phrases-for-lgpt.ts';
import type { StageDefinition } from '../stage.ts';
import type { PhiOptions } from './options.ts';
import { type PhiSummary, runPhi } from './run-phi.ts';
import { cirrValidator } from './validation.ts';

export const phiOptions = z.object({
  epochs: rule.nonNegativeInt().default(100).meta({ help: 'training epochs' }),
  maxSteps: rule.nonNegativeInt().optional().meta({ help: 'stop after this many optimizer steps in all (a budget beside the epochs; default: none)' }),
  batch: rule.intAtLeast(2, 'NT-Xent contrasts rows').default(256).meta({ help: 'images per batch' }),
  lr: rule.positive().default(1e-4).meta({ help: 'AdamW learning rate' }),
  weightDecay: rule.nonNegative().default(0.01).meta({ help: 'AdamW weight decay' }),
  dropout: rule.fraction().default(0.5).meta({ help: 'dropout after each hidden GELU' }),
  lambdaDistil: rule.nonNegative().default(1).meta({ help: 'weight of L_distil (NT-Xent against the OTI tokens)' }),
  lambdaGpt: rule.nonNegative().default(0.75).meta({ help: 'weight of L_gpt' }),
  temperature: rule.positive().default(0.25).meta({ help: 'NT-Xent temperature' }),
  topK: rule.positiveInt().default(150).meta({ help: 'concepts per image whose phrases feed L_gpt' }),
  valFraction: rule.fraction().default(0).meta({ help: 'share of images held out (stable hash of the id); SEARLE trains on every image' }),
  checkpointEvery: rule.positiveInt().default(5).meta({ help: 'epochs between checkpoints' }),
  seed: rule.int().default(42).meta({ help: 'seed of the initial weights, shuffles, dropout and phrase draws' }),
  inputNoise: rule.oneOf([...INPUT_NOISES]).default('none').meta({ help: 'noise on the input image features: none (SEARLE), lincir (U(0,1)·N(0,I), LinCIR\'s), gaussian (σ = noise-sigma)', value: '<kind>' }),
  noiseSigma: rule.nonNegative().default(0.1).meta({ help: 'σ of the gaussian input noise' }),
  keepLastBatch: z.boolean().default(false).meta({ help: 'keep a short last batch (SEARLE drops it: drop_last=True)' }),
  valCirr: z.string().optional().meta({ help: 'validate each epoch on CIRR val (the CIRR folder or its cap.rc2.val.json) and mark the best checkpoint', value: '<path>' }),
  valCirrIndex: z.string().optional().meta({ help: 'gallery index of the CIRR val images (a run folder of `starword index --images CIRR/dev`)', value: '<path>' }),
});

export type PhiStageOptions = z.output<typeof phiOptions>;

/** The training options as run-phi.ts and run.json know them (what decides the network). */
export function phiRunOptions(o: PhiStageOptions): PhiOptions {
  return {
    epochs: o.epochs, batchSize: o.batch, lr: o.lr, weightDecay: o.weightDecay, dropout: o.dropout,
    lambdaDistil: o.lambdaDistil, lambdaGpt: o.lambdaGpt, temperature: o.temperature, topK: o.topK,
    valFraction: o.valFraction, checkpointEvery: o.checkpointEvery, seed: o.seed, dropLast: !o.keepLastBatch,
    maxSteps: o.maxSteps ?? null, inputNoise: o.inputNoise, noiseSigma: o.noiseSigma,
  };
}

/** train_phi.py's argparse defaults, read from the declaration above (the held-out split is starword's, off). */
export const SEARLE_PHI: PhiOptions = phiRunOptions(phiOptions.parse({}));

export const phiStage: StageDefinition<typeof phiOptions, PhiSummary, NoPhrasesInputs & { out?: string; phrasesDir?: string }> = {
  name: 'phi',
  summary: 'train the textual inversion network phi (SEARLE defaults) on the OTI tokens; export ONNX + safetensors',
  input: ['features', 'concepts', 'phrases', 'tokens'],
  output: ['phi-metrics'],
  options: phiOptions,
  cross: [
    (o) => (o.lambdaDistil + o.lambdaGpt > 0 ? null : { key: 'lambdaGpt', message: 'and {flag:lambdaDistil} are both 0: nothing to train' }),
    (o) => (!!o.valCirr === !!o.valCirrIndex ? null : o.valCirr
      ? { key: 'valCirr', message: 'needs {flag:valCirrIndex} DIR: a gallery index of the CIRR val images (starword index --images CIRR/dev --out DIR)' }
      : { key: 'valCirrIndex', message: 'needs {flag:valCirr} DIR (the CIRR folder)' }),
  ],
  prefixedInRun: true,
  config: phiRunOptions,
  async run(ctx, o) {
    const { model, session: sess, log } = ctx;
    const tokenizer = ctx.shared?.tokenizer ?? await tokenizerForModel(model);
    const text = ctx.shared?.text ?? await createTextEncoder(model, { ...sess, tokenizer });
    const ctxLen = model.config.text.ctx;
    const outDir = ctx.inputs.out ? resolve(ctx.inputs.out) : undefined;
    const validate = o.valCirr
      ? cirrValidator(resolve(o.valCirr), resolve(o.valCirrIndex!), text, sess, outDir ?? stageDir(ctx.runDir, 'phi'), log, model.hash)
      : undefined;
    try {
      return await runPhi({
        runDir: ctx.runDir, outDir, src: model, text, tokenize: (t) => tokenizer.tokenize(t, ctxLen),
        options: phiRunOptions(o), phrasesDir: ctx.inputs.phrasesDir ? resolve(ctx.inputs.phrasesDir) : undefined, noPhrases: ctx.inputs,
        session: sess, progress: ctx.progress('phi'), log, validate,
      });
    } finally {
      if (!ctx.shared) await text.release?.();
    }
  },
  counts: (r) => ({ epochsRunNow: r.epochsRunNow, train: r.train, heldOut: r.val }),
  resumedCounts: ['epochsRunNow'],
};
