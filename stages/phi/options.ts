/** phi training options with SEARLE's defaults (DESIGN.md, "SEARLE facts"). */
import { INPUT_NOISES, type InputNoise } from '../../clip/training/input-noise.ts';

export interface PhiOptions {
  epochs: number;
  /** stop after this many optimizer steps in all (null: the epochs decide) */
  maxSteps: number | null;
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** dropout probability after each hidden GELU */
  dropout: number;
  lambdaDistil: number;
  lambdaGpt: number;
  /** NT-Xent temperature */
  temperature: number;
  /** concepts per image whose phrases feed L_gpt */
  topK: number;
  /** share of images held out (by a stable hash of the id) */
  valFraction: number;
  /** write a checkpoint every this many epochs (and after the last) */
  checkpointEvery: number;
  seed: number;
  /** drop a short last batch, as SEARLE's DataLoader(drop_last=True) */
  dropLast: boolean;
  /** noise on the input image features (LinCIR's U(0,1)·N(0,I), or N(0, σ²)); SEARLE: none */
  inputNoise: InputNoise;
  /** σ of the 'gaussian' input noise */
  noiseSigma: number;
}

/** train_phi.py's argparse defaults; the held-out split is starword's (SEARLE trains on every image), so it is off. */
export const SEARLE_PHI: PhiOptions = {
  epochs: 100,
  maxSteps: null,
  batchSize: 256,
  lr: 1e-4,
  weightDecay: 0.01,
  dropout: 0.5,
  lambdaDistil: 1,
  lambdaGpt: 0.75,
  temperature: 0.25,
  topK: 150,
  valFraction: 0,
  checkpointEvery: 5,
  seed: 42,
  dropLast: true,
  inputNoise: 'none',
  noiseSigma: 0.1,
};

/** Throws a plain Error naming the first bad option (the CLI wraps it as a UserError). */
export function checkPhiOptions(o: PhiOptions): void {
  const bad = (msg: string) => { throw new Error(msg); };
  if (!(Number.isInteger(o.epochs) && o.epochs >= 0)) bad(`epochs must be an integer ≥ 0, got ${o.epochs}`);
  if (o.maxSteps !== null && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 0)) bad(`max-steps must be an integer ≥ 0, got ${o.maxSteps}`);
  if (!INPUT_NOISES.includes(o.inputNoise)) bad(`input-noise must be one of ${INPUT_NOISES.join(', ')}, got '${o.inputNoise}'`);
  if (!(o.noiseSigma >= 0 && Number.isFinite(o.noiseSigma))) bad(`noise-sigma must be ≥ 0, got ${o.noiseSigma}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 2)) bad(`batch size must be an integer ≥ 2 (NT-Xent contrasts rows), got ${o.batchSize}`);
  if (!(o.lr > 0)) bad(`learning rate must be > 0, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) bad(`weight decay must be ≥ 0, got ${o.weightDecay}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) bad(`dropout must be in [0, 1), got ${o.dropout}`);
  if (!(o.lambdaDistil >= 0 && o.lambdaGpt >= 0 && o.lambdaDistil + o.lambdaGpt > 0)) bad('lambda-distil and lambda-gpt must be ≥ 0 and not both 0');
  if (!(o.temperature > 0)) bad(`temperature must be > 0, got ${o.temperature}`);
  if (!(Number.isInteger(o.topK) && o.topK >= 1)) bad(`top-k must be a positive integer, got ${o.topK}`);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) bad(`val fraction must be in [0, 1), got ${o.valFraction}`);
  if (!(Number.isInteger(o.checkpointEvery) && o.checkpointEvery >= 1)) bad(`checkpoint-every must be a positive integer, got ${o.checkpointEvery}`);
}
