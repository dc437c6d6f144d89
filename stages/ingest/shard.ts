/** Which shard an image belongs to: a stable hash of its id, the same on every machine. */
import { sha256 } from '../../util/hash.ts';

export function shardOf(imageId: string, shardCount: number): number {
  if (shardCount === 1) return 0;
  return Number.parseInt(sha256(imageId).slice(0, 8), 16) % shardCount;
}
