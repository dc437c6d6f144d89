/**
 * Test doubles for the concepts stage: a deterministic pure-TS text encoder that counts its calls, and
 * a writer of `features` parts as the embed stage writes them.
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import * as features from '../../schemas/features.ts';
import { writePart } from '../../schemas/part-io.ts';
import { Rng } from '../../util/rng.ts';
import { tempDir } from '../helpers/test-utils.ts';

/** A feature that is a pure function of the text: N(0.1, 1) draws seeded by the text itself. */
export function fakeFeature(text: string, dim: number): Float32Array {
  return new Rng(`fake:${text}`).fillNormal(new Float32Array(dim), 1, 0.1);
}

export class FakeTextEncoder implements TextEncoder {
  readonly width = 8;
  calls = 0;
  rows = 0;
  maxRowsPerCall = 0;
  texts: string[] = [];
  constructor(readonly dim: number) {}

  async encodeTexts(texts: string[]): Promise<Float32Array[]> {
    this.calls++;
    this.rows += texts.length;
    this.maxRowsPerCall = Math.max(this.maxRowsPerCall, texts.length);
    this.texts.push(...texts);
    return texts.map((t) => fakeFeature(t, this.dim));
  }

  async encodeIds(ids: Int32Array[]): Promise<Float32Array[]> {
    return this.encodeTexts(ids.map((row) => Array.from(row).join(' ')));
  }
}


export function randomVectors(rng: Rng, n: number, dim: number): Float32Array[] {
  return Array.from({ length: n }, () => rng.fillNormal(new Float32Array(dim)));
}

/** Writes `features` parts of `sizes[i]` random images each; returns every part's ids and vectors. */
export async function writeFeatureParts(dir: string, sizes: number[], dim: number, seed = 1) {
  const rng = new Rng(seed);
  const parts: { ids: string[]; features: Float32Array[] }[] = [];
  for (let p = 0; p < sizes.length; p++) {
    const ids = Array.from({ length: sizes[p] }, (_, i) => `img-${p}-${i}`);
    const vecs = randomVectors(rng, sizes[p], dim);
    await writePart(dir, features.KIND, p, features.toTable(ids.map((id, i) => ({ imageId: id, features: vecs[i] })), dim), 1);
    parts.push({ ids, features: vecs });
  }
  return parts;
}

/** Brute-force reference: every cosine, full sort (score descending, index ascending). */
export function bruteTopK(image: Float32Array, vocab: Float32Array, dim: number, k: number) {
  let sq = 0;
  for (const x of image) sq += x * x;
  const norm = Math.sqrt(sq);
  const V = vocab.length / dim;
  const all: { i: number; s: number }[] = [];
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (image[d] / norm) * vocab[v * dim + d];
    all.push({ i: v, s: Math.fround(s) });
  }
  all.sort((a, b) => b.s - a.s || a.i - b.i);
  return all.slice(0, k);
}

/** Rows of a V×dim matrix scaled to unit length (float32). */
export function normalizedMatrix(rows: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, v) => {
    let sq = 0;
    for (const x of r) sq += x * x;
    const n = Math.sqrt(sq);
    for (let d = 0; d < dim; d++) out[v * dim + d] = r[d] / n;
  });
  return out;
}

/** The one temporary-folder helper (test/helpers/test-utils.ts), re-exported for this folder's tests. */
export { tempDir };
