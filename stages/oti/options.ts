/** The OTI options as the optimisation reads them; declared, with SEARLE's defaults, in stage.ts (SEARLE_OTI). */
import type { AdamWOptions } from '../../clip/adamw.ts';

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
}
