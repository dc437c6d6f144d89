/**
 * SEARLE's OTI loop for one batch of images: v* ~ N(0, 0.02²) (or a warm start), then `steps` AdamW
 * steps on (λ_cos·L_cos + λ_gpt·L_gpt)/(λ_cos+λ_gpt), each step drawing per image one template and one
 * phrase from its pool, an EMA of v* alongside. Each image has its own seeded generator, so its draws do
 * not depend on which other images share its batch. A row whose loss or gradient turns non-finite is
 * stopped and recorded as failed; the rest of the batch goes on. The update itself (AdamW, the EMA) runs where
 * the batch's state lives: in JavaScript on the CPU provider, in the graph on a GPU (batch-state.ts).
 */
import { Rng } from '../../util/rng.ts';
import type { AdamWOptions } from '../../clip/training/adamw.ts';
import type { OtiSession } from './oti-session.ts';

/** The loop's options; declared for the command line, with SEARLE's defaults, in stage.ts (otiOptions → otiRunOptions). */
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

export interface PhraseChoice {
  /** the swapped phrase's ids (with `$`, 259) */
  ids: Int32Array;
  /** text features of the original phrase [P] */
  target: Float32Array;
}

/** An image's phrase pool: an array, or a view that reads each phrase when it is drawn. */
export interface PhraseList {
  readonly length: number;
  at(index: number): PhraseChoice | undefined;
}

export interface OtiImage {
  id: string;
  /** raw (unnormalised) image features [P] */
  features: Float32Array;
  /** pooled phrases of the image's top concepts (may be empty: then L_gpt is off for it) */
  phrases: PhraseList;
  /** warm start instead of the random init */
  init?: Float32Array;
}

export interface OtiResult {
  id: string;
  token: Float32Array;
  ema: Float32Array;
  lcos: number;
  lgpt: number;
  steps: number;
  seed: number;
  status: 'ok' | 'failed';
  error: string | null;
}

/** The per-image seed: a 32-bit hash of the run seed and the image id. */
export function imageSeed(seed: number, id: string): number {
  const rng = new Rng(`${seed}\u0000${id}`);
  return rng.nextUint32();
}

export async function optimizeBatch(session: OtiSession, batch: OtiImage[], templates: Int32Array[], opts: OtiOptions,
  onStep?: (step: number) => void): Promise<OtiResult[]> {
  // Batch invariance (opts.padTo): a short batch gets filler rows (copies of its first image, dropped
  // after) so the loss's 1/B is the same for every batch; the fixed length does the rest (oti-session).
  const padTo = opts.padTo ?? 0;
  const fill = padTo > 0 && batch.length > 0 ? Math.max(0, opts.batchSize - batch.length) : 0;
  const images = fill ? [...batch, ...Array.from({ length: fill }, () => batch[0])] : batch;
  const B = images.length, W = session.width, P = session.dim;
  const seeds = images.map((im) => imageSeed(opts.seed, im.id));
  const rngs = seeds.map((s) => new Rng(s));
  const v = new Float32Array(B * W);
  images.forEach((im, r) => {
    const row = v.subarray(r * W, (r + 1) * W);
    if (im.init) {
      if (im.init.length !== W) throw new Error(`warm-start token for ${im.id} has ${im.init.length} values, the model's width is ${W}`);
      row.set(im.init);
    } else rngs[r].fillNormal(row, opts.initStd);
  });
  const image = new Float32Array(B * P);
  images.forEach((im, r) => image.set(im.features, r * P));
  const gptMask = images.map((im) => im.phrases.length > 0);
  const failed: (string | null)[] = images.map(() => null);
  const lastLcos = new Float32Array(B), lastLgpt = new Float32Array(B);
  const stepsDone = new Int32Array(B);
  const target = new Float32Array(B * P);
  const fallbackPhrase = templates[0];
  // a power-of-two ratio (64/32, 256/32) is exact in float32: the gradient is the one a batch of gradientBatch gives
  const gradScale = opts.gradientBatch && B > opts.gradientBatch ? B / opts.gradientBatch : 1;
  const state = await session.begin(v, image, {
    adamw: opts.adamw, emaDecay: opts.emaDecay, lambdaCos: opts.lambdaCos, lambdaGpt: opts.lambdaGpt, gradScale, padTo: padTo || undefined,
  });

  for (let step = 0; step < opts.steps; step++) {
    if (failed.every((f) => f !== null)) break;
    const templateIds: Int32Array[] = [], phraseIds: Int32Array[] = [];
    images.forEach((im, r) => {
      templateIds.push(templates[rngs[r].int(templates.length)]);
      if (im.phrases.length) {
        const ph = im.phrases.at(rngs[r].int(im.phrases.length))!;
        phraseIds.push(ph.ids);
        target.set(ph.target, r * P);
      } else {
        phraseIds.push(fallbackPhrase); // masked out by gpt_mask; any valid row will do
        target.fill(1, r * P, (r + 1) * P);
      }
    });
    const out = await state.step({ target, templateIds, phraseIds, gptMask, active: failed.map((f) => f === null) });
    for (let r = 0; r < B; r++) {
      if (failed[r] !== null) continue;
      if (!out.ok[r]) {
        failed[r] = `non-finite loss or gradient at step ${step + 1}`;
        continue;
      }
      lastLcos[r] = out.lcos[r];
      lastLgpt[r] = out.lgpt[r];
      stepsDone[r] = step + 1;
    }
    onStep?.(step + 1);
  }
  const { v: tokens, ema } = await state.finish();
  return batch.map((im, r) => ({
    id: im.id,
    token: tokens.slice(r * W, (r + 1) * W),
    ema: ema.slice(r * W, (r + 1) * W),
    lcos: lastLcos[r],
    lgpt: lastLgpt[r],
    steps: stepsDone[r],
    seed: seeds[r],
    status: failed[r] === null ? 'ok' : 'failed',
    error: failed[r],
  }));
}
