/** The OTI options as the optimisation reads them; declared, with SEARLE's defaults, in stage.ts (SEARLE_OTI). */
import type { AdamWOptions } from '../../clip/training/adamw.ts';

export interface OtiOptions {
  steps: number;
  batchSize: number;
  adamw: AdamWOptions;
  emaDecay: number;
  lambdaCos: number;
  lambdaGpt: number;
  /** std of the initial v* ~ N(0, std²) */
  initStd: number;
  /** concepts per image whose phrases are pooled for L_gpt */
  topK: number;
  seed: number;
  /**
   * > 0: every batch is padded to this many tokens in both towers and to `batchSize` rows (filler rows
   * are computed and dropped), so an image's token does not depend on its batch mates, bit for bit
   * (a sharded run then equals an unsharded one). 0 (default): cut each batch at its longest EOT.
   */
  padTo?: number;
  /**
   * The batch whose mean each image's gradient is taken over (SEARLE: 32). A session.run of B rows scales every
   * gradient by B/gradientBatch, so a GPU may run 128 or 256 images at once and each token follows the path a
   * batch of 32 gives it: the loss's 1/B otherwise shrinks every gradient towards AdamW's ε and moved tokens by
   * 3e-3 relative at B = 64, and by 3e-7 with the scaling (bench/oti-batch-size.ts). Batches of gradientBatch
   * rows or fewer (a short last batch) keep SEARLE's plain mean over their rows. Unset: the plain mean always.
   */
  gradientBatch?: number;
}
