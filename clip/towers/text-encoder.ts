/**
 * The CLIP text encoder on ONNX Runtime (clip/towers/encoder-types.ts's TextEncoder): one graph with the
 * text tower and an optional pseudo-token per row, rows batched and cut at each batch's longest EOT.
 *
 * Rows that start with the same ids share them: the bulk texts of the pipeline do ("a photo of a
 * {name}." for every vocabulary name, "a photo of {concept} that …" for every phrase, "a photo of $
 * that …" for every query). Each batch holds rows with a common prefix of P ids; the graph computes that
 * prefix's keys and values once (one row) and broadcasts them, and every row computes only its own
 * positions after P. Exact for a causal encoder: positions before P see the same ids in every row.
 */
import type { TextEncoder } from './encoder-types.ts';
import { Graph } from '../graph/graph.ts';
import { type SessionOptions, cachedGraphPath, createSession, floatTensor, int64Tensor, type ort } from '../runtime/onnx-session.ts';
import { dollarPosition, eotPosition, prepareTextBatch } from '../text/text-batch.ts';
import { prefixKeyValues, textTower, textTowerInputs, textWeights } from './text-graph.ts';
import { ClipTokenizer } from '../text/tokenizer.ts';
import { tokenizerForModel } from '../text/tokenizer-fit.ts';
import type { WeightSource } from '../weights/weight-source.ts';

export interface TextEncoderOptions extends SessionOptions {
  /** rows per session.run (default 64) */
  batchSize?: number;
  /** defaults to the model folder's tokenizer, else the vendored CLIP vocabulary */
  tokenizer?: ClipTokenizer;
}

/**
 * The text tower graph. p_ids [1, P]: the ids every row of the batch starts with (at least SOT); their
 * keys and values are computed once and broadcast to the batch. t_ids/t_pmask/t_eot [B, T…]: each row's
 * positions after P; pseudo [B, W]. Output: features [B, projection].
 */
export function buildTextGraph(src: WeightSource): Graph {
  const G = new Graph();
  const cfg = src.config.text;
  const Wt = textWeights(G, src);
  const prefixIds = G.input('p_ids', 'int64', [1, 'P']);
  const kv = prefixKeyValues(G, Wt, prefixIds); // [L, 1, H, P, dh] each
  const inp = textTowerInputs(G, 't', 'B', 'T');
  const dim = (x: typeof prefixIds, i: number) => G.node('Slice', [G.node('Shape', [x], { shape: [x.shape.length], dtype: 'int64', needsGrad: false }),
    G.constInt64([i]), G.constInt64([i + 1])], { shape: [1], dtype: 'int64', needsGrad: false });
  const dh = cfg.width / cfg.heads;
  const to = G.node('Concat', [G.constInt64([cfg.layers]), dim(inp.ids, 0), G.constInt64([cfg.heads]), dim(prefixIds, 1), G.constInt64([dh])],
    { shape: [5], dtype: 'int64', needsGrad: false }, { axis: 0 });
  const shape = [cfg.layers, 'B', cfg.heads, 'P', dh];
  inp.prefixK = G.node('Expand', [kv.k, to], { shape, needsGrad: false });
  inp.prefixV = G.node('Expand', [kv.v, to], { shape, needsGrad: false });
  const pseudo = G.input('pseudo', 'float', ['B', cfg.width]);
  G.output(textTower(G, Wt, inp, pseudo), 'features');
  return G;
}

/** Length of the common prefix of a and b, at most `max`. */
function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>, max: number): number {
  let i = 0;
  while (i < max && i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * Rows in batches of at most `batchSize` that share a prefix of `shared` ids. `limit[i]`: how many of
 * row i's leading ids may be shared (its EOT, or its `$` when it carries a pseudo-token, must be
 * computed per row). Rows sorted by their ids fall into runs with a long common prefix; a run ends
 * where continuing would halve what it shares. Inside a run, rows go by length (each batch is cut at
 * its longest row, so similar lengths waste little).
 */
export function prefixBatches(ids: readonly ArrayLike<number>[], eots: readonly number[], limit: readonly number[],
  batchSize: number): { rows: number[]; shared: number }[] {
  const cmp = (a: number, b: number) => {
    const x = ids[a], y = ids[b];
    const n = Math.min(eots[a], eots[b]) + 1;
    for (let t = 0; t < n; t++) if (x[t] !== y[t]) return x[t] - y[t];
    return eots[a] - eots[b] || a - b;
  };
  const order = ids.map((_, i) => i).sort(cmp);
  const runs: { rows: number[]; shared: number }[] = [];
  for (const i of order) {
    const run = runs.at(-1);
    if (run) {
      const p = Math.min(commonPrefix(ids[run.rows[0]], ids[i], run.shared), limit[i]);
      if (p >= 1 && 2 * p >= run.shared) {
        run.rows.push(i);
        run.shared = p;
        continue;
      }
    }
    runs.push({ rows: [i], shared: Math.max(1, limit[i]) });
  }
  const out: { rows: number[]; shared: number }[] = [];
  for (const run of runs) {
    run.rows.sort((a, b) => eots[a] - eots[b] || a - b);
    for (let s = 0; s < run.rows.length; s += batchSize) out.push({ rows: run.rows.slice(s, s + batchSize), shared: run.shared });
  }
  return out;
}

class OrtTextEncoder implements TextEncoder {
  readonly dim: number;
  readonly width: number;
  constructor(private readonly src: WeightSource & { dir?: string }, private readonly session: ort.InferenceSession,
    private readonly batchSize: number, private tokenizer: ClipTokenizer | undefined) {
    this.dim = src.config.projectionDim;
    this.width = src.config.text.width;
  }

  async encodeIds(ids: Int32Array[], pseudo?: (Float32Array | null)[]): Promise<Float32Array[]> {
    // Put back in the caller's order at the end. Exact: rows do not interact.
    const eos = this.src.config.text.eos;
    const eots = ids.map((row) => eotPosition(row, eos));
    const limit = ids.map((row, i) => {
      const d = pseudo?.[i] ? dollarPosition(row, eots[i]) : -1;
      return d >= 0 ? d : eots[i];
    });
    const bad = limit.findIndex((m) => m < 1);
    if (bad >= 0) {
      throw new Error(`text row ${bad}: its EOT${pseudo?.[bad] ? ' or $' : ''} is at position 0, where SOT belongs`);
    }
    const out: Float32Array[] = new Array(ids.length);
    for (const batch of prefixBatches(ids, eots, limit, this.batchSize)) {
      const feats = await this.runBatch(batch.rows.map((i) => ids[i]), batch.shared, pseudo ? batch.rows.map((i) => pseudo[i] ?? null) : undefined);
      batch.rows.forEach((i, k) => { out[i] = feats[k]; });
    }
    return out;
  }

  async release(): Promise<void> { await this.session.release(); }

  async encodeTexts(texts: string[], pseudo?: (Float32Array | null)[]): Promise<Float32Array[]> {
    this.tokenizer ??= this.src.dir ? await tokenizerForModel({ dir: this.src.dir, config: this.src.config }) : ClipTokenizer.default();
    const ctx = this.src.config.text.ctx;
    return this.encodeIds(texts.map((t) => this.tokenizer!.tokenize(t, ctx)), pseudo);
  }

  /** One session.run: `rows` share their first `shared` ids. */
  private async runBatch(rows: Int32Array[], shared: number, pseudo: (Float32Array | null)[] | undefined): Promise<Float32Array[]> {
    const W = this.width;
    const uses = rows.map((_, r) => !!pseudo?.[r]);
    const b = prepareTextBatch(rows, this.src.config.text.eos, uses, 0, shared);
    const prefix = BigInt64Array.from(Array.from(rows[0].subarray(0, shared), (id) => BigInt(id)));
    const pv = new Float32Array(b.batch * W);
    pseudo?.forEach((v, r) => {
      if (!v) return;
      if (v.length !== W) throw new Error(`pseudo-token of length ${v.length}, the model's token width is ${W}`);
      pv.set(v, r * W);
    });
    const res = await this.session.run({
      p_ids: int64Tensor(prefix, [1, shared]),
      t_ids: int64Tensor(b.ids, [b.batch, b.len]),
      t_pmask: floatTensor(b.pmask, [b.batch, b.len, 1]),
      t_eot: floatTensor(b.eot, [b.batch, 1, b.len]),
      pseudo: floatTensor(pv, [b.batch, W]),
    });
    const feats = res.features.data as Float32Array;
    return rows.map((_, r) => feats.slice(r * this.dim, (r + 1) * this.dim));
  }
}

export interface TextEncoderSource extends WeightSource { dir?: string }

export async function createTextEncoder(src: TextEncoderSource, opts: TextEncoderOptions = {}): Promise<TextEncoder> {
  const path = cachedGraphPath({ kind: 'text', layout: 'shared-prefix', model: src.hash }, () => buildTextGraph(src), opts.cacheDir);
  const session = await createSession(path, opts);
  return new OrtTextEncoder(src, session, opts.batchSize ?? 64, opts.tokenizer);
}
