/** phi's training options as the trainer reads them; declared, with SEARLE's defaults, in stage.ts (SEARLE_PHI). */
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
