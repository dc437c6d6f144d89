/**
 * The prefix cache: keys and values of the text tower for the positions before the first `$`, which
 * do not depend on v*. They are computed once per distinct prefix (OTI's 24 templates and SEARLE's
 * "a photo of $ that …" phrases share a handful) by a small graph, kept on the host, and fed to the
 * tower's prefix inputs, which then only compute the positions from the prefix on — forward and backward.
 */
import { Graph } from '../graph/graph.ts';
import { type SessionOptions, cachedGraphPath, createSession, int64Tensor, type ort } from '../runtime/onnx-session.ts';
import { prefixKeyValues, textWeights } from './text-graph.ts';
import type { WeightSource } from '../weights/weight-source.ts';

export function buildPrefixGraph(src: WeightSource): Graph {
  const G = new Graph();
  const Wt = textWeights(G, src);
  const ids = G.input('ids', 'int64', ['B', 'P']);
  const { k, v } = prefixKeyValues(G, Wt, ids);
  G.output(k, 'pk');
  G.output(v, 'pv');
  return G;
}

interface Entry { k: Float32Array; v: Float32Array }

/** Default bound of the cache: 256 MiB of keys and values (an entry at B/32 is about 49 KB per position). */
export const DEFAULT_PREFIX_CACHE_BYTES = 256 * 2 ** 20;

const entryBytes = (e: Entry): number => e.k.byteLength + e.v.byteLength;

/**
 * Bounded in bytes, least recently used out first. A batch's own entries are pinned while it is
 * gathered, so nothing it reads is evicted under it; the bound may be exceeded only while one batch
 * alone needs more than it, and is restored as soon as that batch has been copied out.
 */
export class PrefixCache {
  /** Map order is recency order: a hit is moved to the end, eviction takes from the front. */
  private readonly entries = new Map<string, Entry>();
  private readonly layers: number;
  private readonly heads: number;
  private readonly dh: number;
  private held = 0;
  computed = 0;
  evicted = 0;

  private constructor(private readonly session: ort.InferenceSession, src: WeightSource, readonly maxBytes: number) {
    const t = src.config.text;
    this.layers = t.layers; this.heads = t.heads; this.dh = t.width / t.heads;
  }

  static async create(src: WeightSource, opts: SessionOptions = {}, maxBytes = DEFAULT_PREFIX_CACHE_BYTES): Promise<PrefixCache> {
    if (!(maxBytes >= 0)) throw new Error(`prefix cache bound must be >= 0 bytes, got ${maxBytes}`);
    const path = cachedGraphPath({ kind: 'text-prefix', model: src.hash }, () => buildPrefixGraph(src), opts.cacheDir);
    return new PrefixCache(await createSession(path, opts), src, maxBytes);
  }

  /** Bytes of keys and values held now. */
  get bytes(): number { return this.held; }
  get size(): number { return this.entries.size; }

  async release(): Promise<void> {
    this.entries.clear();
    this.held = 0;
    await this.session.release();
  }

  /** Stacked keys and values [L, B, H, P, dh] of the first P ids of each row. */
  async gather(rows: ArrayLike<number>[], P: number): Promise<Entry> {
    const keys = rows.map((r) => Array.prototype.slice.call(r, 0, P).join(','));
    const pinned = new Set(keys);
    for (const key of pinned) this.touch(key);
    const missing = [...pinned].filter((k) => !this.entries.has(k));
    if (missing.length) {
      const per = this.heads * P * this.dh;
      this.evictUntil(this.maxBytes - missing.length * 2 * this.layers * per * 4, pinned);
      await this.compute(missing, P);
    }
    const B = rows.length, L = this.layers, per = this.heads * P * this.dh;
    const k = new Float32Array(L * B * per), v = new Float32Array(L * B * per);
    keys.forEach((key, b) => {
      const e = this.entries.get(key);
      if (!e) throw new Error(`prefix cache: entry of row ${b} missing`); // cannot happen: the batch's entries are pinned
      for (let l = 0; l < L; l++) {
        k.set(e.k.subarray(l * per, (l + 1) * per), (l * B + b) * per);
        v.set(e.v.subarray(l * per, (l + 1) * per), (l * B + b) * per);
      }
    });
    this.evictUntil(this.maxBytes, new Set()); // the batch is copied out: nothing is pinned any more
    return { k, v };
  }

  private touch(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.entries.set(key, e);
  }

  /** Evicts least recently used entries not in `pinned` until at most `limit` bytes are held. */
  private evictUntil(limit: number, pinned: Set<string>): void {
    if (this.held <= limit) return;
    for (const [key, e] of this.entries) {
      if (this.held <= limit) break;
      if (pinned.has(key)) continue;
      this.entries.delete(key);
      this.held -= entryBytes(e);
      this.evicted++;
    }
  }

  private async compute(keys: string[], P: number): Promise<void> {
    const B = keys.length, L = this.layers, per = this.heads * P * this.dh;
    const ids = new BigInt64Array(B * P);
    keys.forEach((key, b) => key.split(',').forEach((id, t) => { ids[b * P + t] = BigInt(id); }));
    const res = await this.session.run({ ids: int64Tensor(ids, [B, P]) });
    const pk = res.pk.data as Float32Array, pv = res.pv.data as Float32Array;
    keys.forEach((key, b) => {
      const e: Entry = { k: new Float32Array(L * per), v: new Float32Array(L * per) };
      for (let l = 0; l < L; l++) {
        e.k.set(pk.subarray((l * B + b) * per, (l * B + b + 1) * per), l * per);
        e.v.set(pv.subarray((l * B + b) * per, (l * B + b + 1) * per), l * per);
      }
      this.entries.set(key, e);
      this.held += entryBytes(e);
    });
    this.computed += B;
  }
}
