/**
 * Target features: CLIP's text feature of each kept (original) phrase, computed once here and stored with
 * the phrase, since OTI and phi compare against them at every step and they never change.
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';

export const DEFAULT_FEATURE_BATCH = 256;

/** One feature per text (encoder.dim floats), computed `batch` texts at a time. */
export async function computeTargets(encoder: TextEncoder, texts: readonly string[], batch = DEFAULT_FEATURE_BATCH,
  onBatch?: (done: number) => void): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += batch) {
    const slice = texts.slice(start, start + batch);
    const feats = await encoder.encodeTexts(slice);
    if (feats.length !== slice.length) throw new Error(`text encoder returned ${feats.length} rows for ${slice.length}`);
    for (const f of feats) {
      if (f.length !== encoder.dim) throw new Error(`text encoder returned a feature of ${f.length} values, expected ${encoder.dim}`);
      out.push(f);
    }
    onBatch?.(start + slice.length);
  }
  return out;
}
