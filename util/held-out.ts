/**
 * The train / held-out split of the networks starword trains (phi, Pic2Word): by a stable hash of the
 * image id, so an image stays on its side across runs, shards and resumes.
 */
import { sha256 } from './hash.ts';

/** True when `id` falls in the held-out share: the first 32 bits of sha256(id) as a fraction. */
export function isHeldOut(id: string, fraction: number): boolean {
  if (fraction <= 0) return false;
  return parseInt(sha256(id).slice(0, 8), 16) / 2 ** 32 < fraction;
}

export function splitExamples<T extends { id: string }>(examples: T[], fraction: number): { train: T[]; val: T[] } {
  const train: T[] = [], val: T[] = [];
  for (const e of examples) (isHeldOut(e.id, fraction) ? val : train).push(e);
  return { train, val };
}
