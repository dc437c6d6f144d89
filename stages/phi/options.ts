/** phi training options with SEARLE's defaults (DESIGN.md, "SEARLE facts"). */
export interface PhiOptions {
  epochs: number;
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
}

/** train_phi.py's argparse defaults; the held-out split is starword's (SEARLE trains on every image), so it is off. */
export const SEARLE_PHI: PhiOptions = {
  epochs: 100,
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
};
