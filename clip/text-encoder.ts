/**
 * The CLIP text encoder on ONNX Runtime (clip/encoder-types.ts's TextEncoder): one graph with the
 * text tower and an optional pseudo-token per row, rows batched and cut at each batch's longest EOT.
 */
import type { TextEncoder } from './encoder-types.ts';
import { Graph } from './graph/graph.ts';
import { type SessionOptions, cachedGraphPath, createSession, floatTensor, int64Tensor, type ort } from './onnx-session.ts';
import { eotPosition, prepareTextBatch } from './text-batch.ts';
import { textTower, textTowerInputs, textWeights } from './text-graph.ts';
import { ClipTokenizer } from './tokenizer.ts';
import { tokenizerForModel } from './tokenizer-fit.ts';
import type { WeightSource } from './weight-source.ts';

export interface TextEncoderOptions extends SessionOptions {
  /** rows per session.run (default 64) */
  batchSize?: number;
  /** defaults to the model folder's tokenizer, else the vendored CLIP vocabulary */
  tokenizer?: ClipTokenizer;
}

/** The text tower graph: inputs t_ids/t_pmask/t_eot and pseudo [B, W]; output features [B, P]. */
export function buildTextGraph(src: WeightSource): Graph {
  const G = new Graph();
  const Wt = textWeights(G, src);
  const inp = textTowerInputs(G, 't', 'B', 'T');
  const pseudo = G.input('pseudo', 'float', ['B', src.config.text.width]);
  G.output(textTower(G, Wt, inp, pseudo), 'features');
  return G;
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
    // Rows are batched by length (each batch is cut at its longest EOT, so similar lengths waste
    // little), then put back in the caller's order. Exact: rows do not interact.
    const eos = this.src.config.text.eos;
    const eots = ids.map((row) => eotPosition(row, eos));
    const order = ids.map((_, i) => i).sort((a, b) => eots[a] - eots[b] || a - b);
    const out: Float32Array[] = new Array(ids.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const idx = order.slice(start, start + this.batchSize);
      const feats = await this.runBatch(idx.map((i) => ids[i]), pseudo ? idx.map((i) => pseudo[i] ?? null) : undefined);
      idx.forEach((i, k) => { out[i] = feats[k]; });
    }
    return out;
  }

  async release(): Promise<void> { await this.session.release(); }

  async encodeTexts(texts: string[], pseudo?: (Float32Array | null)[]): Promise<Float32Array[]> {
    this.tokenizer ??= this.src.dir ? await tokenizerForModel({ dir: this.src.dir, config: this.src.config }) : ClipTokenizer.default();
    const ctx = this.src.config.text.ctx;
    return this.encodeIds(texts.map((t) => this.tokenizer!.tokenize(t, ctx)), pseudo);
  }

  private async runBatch(rows: Int32Array[], pseudo: (Float32Array | null)[] | undefined): Promise<Float32Array[]> {
    const W = this.width;
    const uses = rows.map((_, r) => !!pseudo?.[r]);
    const b = prepareTextBatch(rows, this.src.config.text.eos, uses);
    const pv = new Float32Array(b.batch * W);
    pseudo?.forEach((v, r) => {
      if (!v) return;
      if (v.length !== W) throw new Error(`pseudo-token of length ${v.length}, the model's token width is ${W}`);
      pv.set(v, r * W);
    });
    const res = await this.session.run({
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
  const path = cachedGraphPath({ kind: 'text', model: src.hash }, () => buildTextGraph(src), opts.cacheDir);
  const session = await createSession(path, opts);
  return new OrtTextEncoder(src, session, opts.batchSize ?? 64, opts.tokenizer);
}
