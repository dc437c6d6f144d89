/**
 * SEARLE's OTI loop for one batch of images: v* ~ N(0, 0.02²) (or a warm start), then `steps` AdamW
 * steps on (λ_cos·L_cos + λ_gpt·L_gpt)/(λ_cos+λ_gpt), each step drawing per image one template and one
 * phrase from its pool, an EMA of v* alongside. Each image has its own seeded generator, so its draws do
 * not depend on which other images share its batch. A row whose loss or gradient turns non-finite is
 * stopped and recorded as failed; the rest of the batch goes on.
 */
import { Rng } from '../../util/rng.ts';
import { AdamW, emaUpdate } from '../../clip/training/adamw.ts';
import type { OtiOptions } from './options.ts';
import type { OtiSession } from './oti-session.ts';

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
  const ema = v.slice();
  const image = new Float32Array(B * P);
  images.forEach((im, r) => image.set(im.features, r * P));
  const gptMask = images.map((im) => im.phrases.length > 0);
  const failed: (string | null)[] = images.map(() => null);
  const lastLcos = new Float32Array(B), lastLgpt = new Float32Array(B);
  const stepsDone = new Int32Array(B);
  const opt = new AdamW(B * W, opts.adamw);
  const target = new Float32Array(B * P);
  const active = (i: number) => failed[Math.floor(i / W)] === null;
  const fallbackPhrase = templates[0];

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
    const out = await session.step({
      v, image, target, templateIds, phraseIds, gptMask, lambdaCos: opts.lambdaCos, lambdaGpt: opts.lambdaGpt, padTo: padTo || undefined,
    });
    for (let r = 0; r < B; r++) {
      if (failed[r] !== null) continue;
      let finite = Number.isFinite(out.lcos[r]) && Number.isFinite(out.lgpt[r]);
      for (let i = r * W; finite && i < (r + 1) * W; i++) finite = Number.isFinite(out.grad[i]);
      if (!finite) {
        failed[r] = `non-finite loss or gradient at step ${step + 1}`;
        v.fill(0, r * W, (r + 1) * W); // keep the batch finite; the row is no longer updated
        continue;
      }
      lastLcos[r] = out.lcos[r];
      lastLgpt[r] = out.lgpt[r];
      stepsDone[r] = step + 1;
    }
    // a power-of-two ratio (64/32, 256/32) is exact in float32: the gradient is the one a batch of gradientBatch gives
    if (opts.gradientBatch && B > opts.gradientBatch) {
      const scale = B / opts.gradientBatch;
      for (let i = 0; i < out.grad.length; i++) out.grad[i] *= scale;
    }
    opt.update(v, out.grad, active);
    emaUpdate(ema, v, opts.emaDecay, active);
    onStep?.(step + 1);
  }
  return batch.map((im, r) => ({
    id: im.id,
    token: v.slice(r * W, (r + 1) * W),
    ema: ema.slice(r * W, (r + 1) * W),
    lcos: lastLcos[r],
    lgpt: lastLgpt[r],
    steps: stepsDone[r],
    seed: seeds[r],
    status: failed[r] === null ? 'ok' : 'failed',
    error: failed[r],
  }));
}
