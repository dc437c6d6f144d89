/**
 * The prefix cache: keys and values of the text tower for the positions before the first `$`, which
 * do not depend on v*. They are computed once per distinct prefix (OTI's 24 templates and SEARLE's
 * "a photo of $ that …" phrases share a handful) by a small graph, kept on the host, and fed to the
 * tower's prefix inputs, which then only compute the positions from the prefix on — forward and backward.
 */
import { Graph } from './graph/graph.ts';
import { type SessionOptions, cachedGraphPath, createSession, int64Tensor, type ort } from './onnx-session.ts';
import { prefixKeyValues, textWeights } from './text-graph.ts';
import type { WeightSource } from './weight-source.ts';

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

export class PrefixCache {
  private readonly entries = new Map<string, Entry>();
  private readonly layers: number;
  private readonly heads: number;
  private readonly dh: number;
  computed = 0;

  private constructor(private readonly session: ort.InferenceSession, src: WeightSource, private readonly maxEntries: number) {
    const t = src.config.text;
    this.layers = t.layers; this.heads = t.heads; this.dh = t.width / t.heads;
  }

  static async create(src: WeightSource, opts: SessionOptions = {}, maxEntries = 4096): Promise<PrefixCache> {
    const path = cachedGraphPath({ kind: 'text-prefix', model: src.hash }, () => buildPrefixGraph(src), opts.cacheDir);
    return new PrefixCache(await createSession(path, opts), src, maxEntries);
  }

  async release(): Promise<void> {
    this.entries.clear();
    await this.session.release();
  }

  /** Stacked keys and values [L, B, H, P, dh] of the first P ids of each row. */
  async gather(rows: ArrayLike<number>[], P: number): Promise<Entry> {
    const keys = rows.map((r) => Array.prototype.slice.call(r, 0, P).join(','));
    const missing = [...new Set(keys.filter((k) => !this.entries.has(k)))];
    if (missing.length) await this.compute(missing, P);
    const B = rows.length, L = this.layers, per = this.heads * P * this.dh;
    const k = new Float32Array(L * B * per), v = new Float32Array(L * B * per);
    keys.forEach((key, b) => {
      const e = this.entries.get(key)!;
      for (let l = 0; l < L; l++) {
        k.set(e.k.subarray(l * per, (l + 1) * per), (l * B + b) * per);
        v.set(e.v.subarray(l * per, (l + 1) * per), (l * B + b) * per);
      }
    });
    return { k, v };
  }

  private async compute(keys: string[], P: number): Promise<void> {
    const B = keys.length, L = this.layers, per = this.heads * P * this.dh;
    const ids = new BigInt64Array(B * P);
    keys.forEach((key, b) => key.split(',').forEach((id, t) => { ids[b * P + t] = BigInt(id); }));
    const res = await this.session.run({ ids: int64Tensor(ids, [B, P]) });
    const pk = res.pk.data as Float32Array, pv = res.pv.data as Float32Array;
    if (this.entries.size + B > this.maxEntries) this.entries.clear(); // bounded; prefixes are few in practice
    keys.forEach((key, b) => {
      const e: Entry = { k: new Float32Array(L * per), v: new Float32Array(L * per) };
      for (let l = 0; l < L; l++) {
        e.k.set(pk.subarray((l * B + b) * per, (l * B + b + 1) * per), l * per);
        e.v.set(pv.subarray((l * B + b) * per, (l * B + b + 1) * per), l * per);
      }
      this.entries.set(key, e);
    });
    this.computed += B;
  }
}
