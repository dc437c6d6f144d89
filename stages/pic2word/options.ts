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

/** Throws a plain Error naming the first bad option (the CLI wraps it as a UserError). */
export function checkPic2WordOptions(o: Pic2WordOptions): void {
  const bad = (msg: string) => { throw new Error(msg); };
  const posInt = (x: number) => Number.isInteger(x) && x >= 1;
  if (!(Number.isInteger(o.epochs) && o.epochs >= 0)) bad(`--epochs must be an integer ≥ 0, got ${o.epochs}`);
  if (o.maxSteps != null && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 0)) bad(`--max-steps must be an integer ≥ 0, got ${o.maxSteps}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 2)) bad(`--batch must be an integer ≥ 2 (the loss contrasts the rows of a batch), got ${o.batchSize}`);
  if (!(o.lr > 0)) bad(`--lr must be > 0, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) bad(`--weight-decay must be ≥ 0, got ${o.weightDecay}`);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) bad(`--beta1 must be in [0, 1), got ${o.beta1}`);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) bad(`--beta2 must be in [0, 1), got ${o.beta2}`);
  if (!(o.eps > 0)) bad(`--eps must be > 0, got ${o.eps}`);
  if (!(Number.isInteger(o.warmup) && o.warmup >= 1)) bad(`--warmup must be a positive integer (steps), got ${o.warmup}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) bad(`--dropout must be in [0, 1), got ${o.dropout}`);
  if (!posInt(o.middleDim)) bad(`--middle-dim must be a positive integer, got ${o.middleDim}`);
  if (!(Number.isInteger(o.layers) && o.layers >= 0)) bad(`--layers must be an integer ≥ 0, got ${o.layers}`);
  if (o.logitScale !== null && !(o.logitScale > 0 && Number.isFinite(o.logitScale))) bad(`--logit-scale must be > 0, got ${o.logitScale}`);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) bad(`--val-fraction must be in [0, 1), got ${o.valFraction}`);
  if (!posInt(o.checkpointEvery)) bad(`--checkpoint-every must be a positive integer, got ${o.checkpointEvery}`);
}

/** open_clip's cosine_lr, which the authors' trainer calls before every step (step counted from 0). */
export function cosineLr(baseLr: number, warmup: number, totalSteps: number, step: number): number {
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  const e = step - warmup, es = totalSteps - warmup;
  return 0.5 * (1 + Math.cos((Math.PI * e) / es)) * baseLr;
}
