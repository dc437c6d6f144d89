/**
 * Pic2Word training options with the authors' defaults (google-research/composed_image_retrieval):
 * README.md's training command (--batch-size 128 --lr 1e-4 --wd 0.1 --epochs 30 --warmup 10000),
 * src/params.py's Adam betas and eps for ViT backbones ((0.9, 0.98), 1e-6), model/model.py's IM2TEXT
 * (dropout 0.1; params.py's --middle_dim 512 and --n-layer 2). The warmup of 10,000 steps is sized for
 * CC3M on GPUs: on a few hundred images it never ends, so it is an option (--warmup) like the rest.
 */
export interface Pic2WordOptions {
  epochs: number;
  /** stop after this many optimizer steps in all (null: the epochs decide; the cosine schedule spans the budget) */
  maxSteps?: number | null;
  batchSize: number;
  lr: number;
  /** AdamW weight decay of the weights; biases get none (main.py's parameter groups) */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** linear warmup steps of the cosine schedule (open_clip's cosine_lr) */
  warmup: number;
  /** dropout probability in each block (before its ReLU) */
  dropout: number;
  middleDim: number;
  layers: number;
  /** the contrastive logit scale; null: exp(logit_scale) of the CLIP checkpoint, as the authors read it */
  logitScale: number | null;
  /** share of images held out (by a stable hash of the id); the authors train on every image */
  valFraction: number;
  /** write a checkpoint every this many epochs (and after the last) */
  checkpointEvery: number;
  seed: number;
}

export const PIC2WORD_DEFAULTS: Pic2WordOptions = {
  epochs: 30,
  maxSteps: null,
  batchSize: 128,
  lr: 1e-4,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-6,
  warmup: 10000,
  dropout: 0.1,
  middleDim: 512,
  layers: 2,
  logitScale: null,
  valFraction: 0.1,
  checkpointEvery: 1,
  seed: 0,
};


/** open_clip's cosine_lr, which the authors' trainer calls before every step (step counted from 0). */
export function cosineLr(baseLr: number, warmup: number, totalSteps: number, step: number): number {
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  const e = step - warmup, es = totalSteps - warmup;
  return 0.5 * (1 + Math.cos((Math.PI * e) / es)) * baseLr;
}
