/**
 * Pic2Word's mapping network f_M, one declaration: its options (the authors' defaults,
 * google-research/composed_image_retrieval; see options.ts), and its run: train on a run's raw image
 * features (no OTI, no phrases), resumable, export ONNX + safetensors (run-pic2word.ts).
 */
import { z } from 'zod';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { rule } from '../../util/option-rules.ts';
import type { StageDefinition } from '../stage.ts';
import { PIC2WORD_DEFAULTS as d, type Pic2WordOptions } from './options.ts';
import { type Pic2WordSummary, runPic2Word } from './run-pic2word.ts';

export const pic2wordOptions = z.object({
  epochs: rule.nonNegativeInt().default(d.epochs).meta({ help: 'training epochs' }),
  maxSteps: rule.nonNegativeInt().optional().meta({ help: 'stop after this many optimizer steps in all, a budget beside --epochs (the cosine schedule spans it; default: none)' }),
  batch: rule.intAtLeast(2, 'the loss contrasts the rows of a batch').default(d.batchSize).meta({ help: 'images per batch; the last partial batch is dropped' }),
  lr: rule.positive().default(d.lr).meta({ help: 'peak AdamW learning rate' }),
  weightDecay: rule.nonNegative().default(d.weightDecay).meta({ help: 'AdamW weight decay of the weights, none for biases' }),
  beta1: rule.fraction().default(d.beta1).meta({ help: 'AdamW beta1' }),
  beta2: rule.fraction().default(d.beta2).meta({ help: 'AdamW beta2 (authors, ViT)' }),
  eps: rule.positive().default(d.eps).meta({ help: 'AdamW eps (authors, ViT)' }),
  warmup: rule.positiveInt().default(d.warmup).meta({ help: 'linear warmup steps of the cosine schedule (sized for CC3M)' }),
  dropout: rule.fraction().default(d.dropout).meta({ help: 'dropout in each block of f_M' }),
  middleDim: rule.positiveInt().default(d.middleDim).meta({ help: 'hidden width of f_M' }),
  layers: rule.nonNegativeInt().default(d.layers).meta({ help: 'hidden blocks of f_M before fc_out' }),
  valFraction: rule.fraction().default(d.valFraction).meta({ help: 'share of images held out for the per-epoch metrics (stable hash of the id)', searle: 0 }),
  checkpointEvery: rule.positiveInt().default(d.checkpointEvery).meta({ help: 'epochs between checkpoints' }),
  seed: rule.int().default(d.seed).meta({ help: 'seed of the initial weights, shuffles and dropout' }),
  logitScale: rule.positive().optional().meta({ help: 'contrastive logit scale (default: exp of the checkpoint\'s logit_scale, as the authors read it)' }),
});

export type Pic2WordStageOptions = z.output<typeof pic2wordOptions>;

/** The training options as run-pic2word.ts knows them. */
export function pic2wordRunOptions(o: Pic2WordStageOptions): Pic2WordOptions {
  const { batch, logitScale, maxSteps, ...rest } = o;
  return { ...rest, batchSize: batch, logitScale: logitScale ?? null, maxSteps: maxSteps ?? null };
}

export const pic2wordStage: StageDefinition<typeof pic2wordOptions, Pic2WordSummary, { source: string }> = {
  name: 'pic2word',
  summary: 'train Pic2Word\'s mapping network f_M (authors\' defaults) on a run\'s image features; export ONNX + safetensors',
  input: ['features'],
  output: ['pic2word-metrics'],
  options: pic2wordOptions,
  config: pic2wordRunOptions,
  async run(ctx, o) {
    const { model } = ctx;
    const tokenizer = await ClipTokenizer.forModelDir(model.dir);
    return runPic2Word({
      source: ctx.inputs.source, outDir: ctx.runDir, src: model, tokenize: (t) => tokenizer.tokenize(t, model.config.text.ctx),
      options: pic2wordRunOptions(o), session: ctx.session, progress: ctx.progress('pic2word'), log: ctx.log,
    });
  },
  counts: (r) => ({ epochsRunNow: r.epochsRunNow, train: r.train, heldOut: r.val }),
};
