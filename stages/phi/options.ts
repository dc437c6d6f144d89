/** phi's training options as the trainer reads them; declared, with SEARLE's defaults, in stage.ts (SEARLE_PHI). */
import type { InputNoise } from '../../clip/training/input-noise.ts';

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
