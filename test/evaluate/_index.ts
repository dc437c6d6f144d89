/** Test helpers: a gallery index of one-hot features written as Arrow parts, and a token source from score rows. */
import { rm } from 'node:fs/promises';

import { join } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { writePart } from '../../schemas/part-io.ts';
import { vectorTable } from '../../stages/retrieve/arrow-columns.ts';
import type { TokenSource } from '../../stages/evaluate/run-evaluate.ts';
import { tempDir as sharedTempDir } from '../helpers/test-utils.ts';

export const fixtures = join(import.meta.dirname, '..', 'fixtures', 'eval');

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = sharedTempDir(prefix);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Writes image i's feature as the i-th basis vector, split over parts of the given sizes. A query
 * vector then scores gallery image i with its i-th component (over its norm): scores are set by hand.
 */
export async function writeOneHotIndex(dir: string, ids: string[], partSizes: number[]): Promise<void> {
  const n = ids.length;
  let start = 0;
  for (const [part, size] of partSizes.entries()) {
    const values = new Float32Array(size * n);
    for (let r = 0; r < size; r++) values[r * n + start + r] = 1;
    await writePart(dir, 'features', part, vectorTable(ids.slice(start, start + size), values, n), 1);
    start += size;
  }
  if (start !== n) throw new Error('part sizes do not cover the ids');
}

/** Tokens from a table: gallery id → score row. */
export function tableTokens(rows: Record<string, number[]>): TokenSource {
  return {
    needsFeatures: false,
    async tokens(ids) {
      const out = new Map<string, Float32Array>();
      for (const id of ids) if (rows[id]) out.set(id, Float32Array.from(rows[id]));
      return out;
    },
  };
}

/** A text encoder whose feature of a prompted text is the pseudo-token itself: the query is the token. */
export function tokenEchoEncoder(dim: number): TextEncoder {
  return {
    dim, width: dim,
    async encodeIds() { throw new Error('not used'); },
    async encodeTexts(texts, pseudo) {
      return texts.map((t, i) => {
        const p = pseudo?.[i];
        if (!p) throw new Error(`no token for '${t}'`);
        if (!t.startsWith('a photo of $ that ')) throw new Error(`unexpected prompt '${t}'`);
        return Float32Array.from(p);
      });
    },
  };
}

export function near(actual: number, expected: number, tol = 1e-3): boolean {
  return Math.abs(actual - expected) < tol;
}
