/**
 * CLIP's text tower as graph ops (HF CLIPTextModel + text_projection), differentiable with respect to the
 * pseudo-token vectors. One set of weights serves several towers in one graph (template rows, phrase rows,
 * target rows), each with its own length T: the batch is cut at its longest EOT, which is exact for a
 * causal encoder read at the EOT.
 *
 * Per-tower inputs (fed by the host, who knows the ids):
 *   <p>_ids   [B, T] int64    token ids
 *   <p>_pmask [B, T, 1] float 1 at the row's first `$` (id 259) when the row carries a pseudo-token, else 0
 *   <p>_eot   [B, 1, T] float one-hot of the row's EOT position
 */
import type { Activation, TextConfig } from '../weights/config.ts';
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { concat } from '../graph/ops-extra.ts';
import { type WeightSource, transpose2d } from '../weights/weight-source.ts';

export interface LinearWeights { wt: Value; b: Value }
export interface LayerWeights {
  ln1: [Value, Value]; ln2: [Value, Value];
  q: LinearWeights; k: LinearWeights; v: LinearWeights; o: LinearWeights;
  fc1: LinearWeights; fc2: LinearWeights;
}
export interface TextWeights {
  cfg: TextConfig; projDim: number;
  tokenEmbedding: Value; positionEmbedding: Value; causalMask: Value;
  layers: LayerWeights[]; finalLn: [Value, Value]; projT: Value;
}

/** Registers a Linear's weight (transposed to [in, out]) and bias. */
export function linearWeights(G: Graph, src: WeightSource, prefix: string, out: number, inp: number): LinearWeights {
  return {
    wt: G.weight(`${prefix}.weight.T`, [inp, out], transpose2d(src.tensor(`${prefix}.weight`), out, inp)),
    b: G.weight(`${prefix}.bias`, [out], src.tensor(`${prefix}.bias`)),
  };
}

export function lnWeights(G: Graph, src: WeightSource, prefix: string, width: number): [Value, Value] {
  return [G.weight(`${prefix}.weight`, [width], src.tensor(`${prefix}.weight`)), G.weight(`${prefix}.bias`, [width], src.tensor(`${prefix}.bias`))];
}

export function encoderLayerWeights(G: Graph, src: WeightSource, prefix: string, width: number, mlp: number): LayerWeights {
  return {
    ln1: lnWeights(G, src, `${prefix}.layer_norm1`, width),
    ln2: lnWeights(G, src, `${prefix}.layer_norm2`, width),
    q: linearWeights(G, src, `${prefix}.self_attn.q_proj`, width, width),
    k: linearWeights(G, src, `${prefix}.self_attn.k_proj`, width, width),
    v: linearWeights(G, src, `${prefix}.self_attn.v_proj`, width, width),
    o: linearWeights(G, src, `${prefix}.self_attn.out_proj`, width, width),
    fc1: linearWeights(G, src, `${prefix}.mlp.fc1`, mlp, width),
    fc2: linearWeights(G, src, `${prefix}.mlp.fc2`, width, mlp),
  };
}

export function textWeights(G: Graph, src: WeightSource): TextWeights {
  const cfg = src.config.text, W = cfg.width;
  const mask = new Float32Array(cfg.ctx * cfg.ctx);
  for (let i = 0; i < cfg.ctx; i++) for (let j = i + 1; j < cfg.ctx; j++) mask[i * cfg.ctx + j] = -Infinity;
  return {
    cfg, projDim: src.config.projectionDim,
    tokenEmbedding: G.weight('text_model.embeddings.token_embedding.weight', [cfg.vocab, W], src.tensor('text_model.embeddings.token_embedding.weight')),
    positionEmbedding: G.weight('text_model.embeddings.position_embedding.weight', [cfg.ctx, W], src.tensor('text_model.embeddings.position_embedding.weight')),
    causalMask: G.weight('causal_mask', [cfg.ctx, cfg.ctx], mask),
    layers: Array.from({ length: cfg.layers }, (_, l) => encoderLayerWeights(G, src, `text_model.encoder.layers.${l}`, W, cfg.mlp)),
    finalLn: lnWeights(G, src, 'text_model.final_layer_norm', W),
    projT: G.weight('text_projection.weight.T', [W, src.config.projectionDim],
      transpose2d(src.tensor('text_projection.weight'), src.config.projectionDim, W)),
  };
}

export function activation(G: Graph, x: Value, act: Activation): Value {
  return act === 'gelu' ? op.gelu(G, x) : op.quickGelu(G, x);
}

/** Keys and values of earlier positions, [B, H, P, dh] each (the prefix cache). */
export interface KeyValues { k: Value; v: Value }

/**
 * Multi-head self-attention on x [B, T, W]; `mask` [T, P + T] is added to the scores (or null).
 * `queries` [B, Tq, W], when given, are the rows that ask (the keys and values still come from every row of x).
 * `prefix` holds the keys/values of P earlier positions that x attends to as well (they do not depend on
 * anything we differentiate); `capture`, when given, receives this layer's keys/values of x.
 */
export function selfAttention(G: Graph, x: Value, L: LayerWeights, heads: number, mask: Value | null,
  prefix?: KeyValues | null, capture?: KeyValues[], queries?: Value): Value {
  const [B, , W] = x.shape;
  const dh = (W as number) / heads;
  // q [B, Tq, W] → [B, H, Tq, dh] (Tq = T, or the rows of `queries`); k, v: [B, T, W] → [B, H, T, dh]
  const xq = queries ?? x;
  const Tq = xq.shape[1];
  const q = op.scale(G, op.linear(G, xq, L.q.wt, L.q.b), 1 / Math.sqrt(dh));
  const k = op.linear(G, x, L.k.wt, L.k.b);
  const v = op.linear(G, x, L.v.wt, L.v.b);
  const split = (t: Value) => op.reshape(G, t, [0, 0, heads, dh], [B, t.shape[1], heads, dh]);
  const qh = op.transpose(G, split(q), [0, 2, 1, 3]);
  let kT: Value; // [B, H, dh, P + T]
  let vh = op.transpose(G, split(v), [0, 2, 1, 3]);
  if (prefix || capture) {
    let kh = op.transpose(G, split(k), [0, 2, 1, 3]);
    capture?.push({ k: kh, v: vh });
    if (prefix) {
      kh = concat(G, [prefix.k, kh], 2, 'PT');
      vh = concat(G, [prefix.v, vh], 2, 'PT');
    }
    kT = op.transpose(G, kh, [0, 1, 3, 2]);
  } else {
    kT = op.transpose(G, split(k), [0, 2, 3, 1]);
  }
  let scores = op.matmul(G, qh, kT); // [B, H, Tq, P + T]
  if (mask) scores = op.add(G, scores, mask);
  const probs = op.softmax(G, scores);
  const ctx = op.transpose(G, op.matmul(G, probs, vh), [0, 2, 1, 3]); // [B, Tq, H, dh]
  const merged = op.reshape(G, ctx, [0, 0, W as number], [B, Tq, W]);
  return op.linear(G, merged, L.o.wt, L.o.b);
}

/** Pre-LN transformer block (CLIPEncoderLayer). */
export function encoderLayer(G: Graph, x: Value, L: LayerWeights, heads: number, eps: number, act: Activation, mask: Value | null,
  prefix?: KeyValues | null, capture?: KeyValues[]): Value {
  const h = selfAttention(G, op.layerNorm(G, x, L.ln1[0], L.ln1[1], eps), L, heads, mask, prefix, capture);
  const x1 = op.add(G, x, h);
  const m = op.linear(G, activation(G, op.linear(G, op.layerNorm(G, x1, L.ln2[0], L.ln2[1], eps), L.fc1.wt, L.fc1.b), act), L.fc2.wt, L.fc2.b);
  return op.add(G, x1, m);
}

/**
 * The last encoder layer read at one row per sequence only (the EOT, or CLS for the vision tower): every
 * position still gives its keys and values, but the query, attention output, residual and MLP are
 * computed for that row alone, the only one the tower returns. Exact: those are per position.
 * x [B, T, W], `at` [B, 1, T] one-hot (or [1, 1, T], broadcast) → [B, 1, W]; `mask` [T, P + T] or null.
 */
export function eotLayer(G: Graph, x: Value, L: LayerWeights, cfg: { heads: number; eps: number; act: Activation },
  mask: Value | null, at: Value, prefix?: KeyValues | null): Value {
  const B = x.shape[0];
  const h = op.layerNorm(G, x, L.ln1[0], L.ln1[1], cfg.eps);
  const hRow = op.matmul(G, at, h); // [B, 1, W]
  let rowMask: Value | null = null;
  if (mask) {
    // each row's mask row, [B, 1, 1, P + T]: gathered by index (a one-hot product would give 0·−∞)
    const index = G.node('ArgMax', [at], { shape: [B, 1, 1], dtype: 'int64', needsGrad: false }, { axis: 2, keepdims: 1 });
    const rows = G.node('Gather', [mask, G.node('Squeeze', [index, G.constInt64([2])], { shape: [B, 1], dtype: 'int64', needsGrad: false })],
      { shape: [B, 1, mask.shape[1]], needsGrad: false }, { axis: 0 });
    rowMask = G.node('Unsqueeze', [rows, G.constInt64([1])], { shape: [B, 1, 1, mask.shape[1]], needsGrad: false });
  }
  const attn = selfAttention(G, h, L, cfg.heads, rowMask, prefix, undefined, hRow);
  const x1 = op.add(G, op.matmul(G, at, x), attn); // [B, 1, W]
  const m = op.linear(G, activation(G, op.linear(G, op.layerNorm(G, x1, L.ln2[0], L.ln2[1], cfg.eps), L.fc1.wt, L.fc1.b), cfg.act), L.fc2.wt, L.fc2.b);
  return op.add(G, x1, m);
}

export interface TextTowerInputs {
  ids: Value; pmask: Value; eot: Value;
  /** the prefix cache: keys and values of the P positions before `ids`, [L, B, H, P, dh] each */
  prefixK?: Value; prefixV?: Value;
}

/**
 * Declares a tower's inputs under `prefix`, with batch dim `batch` and length dim `len`; with
 * `prefixCache`, also <p>_pk and <p>_pv [L, B, H, P, dh]: then `ids` are the positions after the P cached ones.
 */
export function textTowerInputs(G: Graph, prefix: string, batch: string, len: string, prefixCache?: TextConfig): TextTowerInputs {
  const inputs: TextTowerInputs = {
    ids: G.input(`${prefix}_ids`, 'int64', [batch, len]),
    pmask: G.input(`${prefix}_pmask`, 'float', [batch, len, 1]),
    eot: G.input(`${prefix}_eot`, 'float', [batch, 1, len]),
  };
  if (prefixCache) {
    const shape = [prefixCache.layers, batch, prefixCache.heads, `${prefix}_P`, prefixCache.width / prefixCache.heads];
    inputs.prefixK = G.input(`${prefix}_pk`, 'float', shape);
    inputs.prefixV = G.input(`${prefix}_pv`, 'float', shape);
  }
  return inputs;
}

/** The [offset, offset + len) rows of a [ctx, …] table, offset and len read at run time as [1] int64. */
function rowsAt(G: Graph, table: Value, offset: Value, len: Value, shape: Value['shape']): Value {
  const end = G.node('Add', [offset, len], { shape: [1], dtype: 'int64', needsGrad: false });
  return G.node('Slice', [table, offset, end, G.constInt64([0])], { shape, needsGrad: false });
}

/** Element `i` of a [n] int64 shape tensor, as [1]. */
function dimOf(G: Graph, x: Value, i: number): Value {
  const shape = G.node('Shape', [x], { shape: [x.shape.length], dtype: 'int64', needsGrad: false });
  return G.node('Slice', [shape, G.constInt64([i]), G.constInt64([i + 1])], { shape: [1], dtype: 'int64', needsGrad: false });
}

/**
 * Text features [B, P] (unnormalised, as HF get_text_features). `pseudo` [B, W] replaces the token
 * embedding where pmask is 1; pass null for plain text. With the tower's prefix inputs, `ids` are the
 * positions after the cached prefix: positions, mask and keys continue from it (exact, causal).
 */
export function textTower(G: Graph, Wt: TextWeights, inp: TextTowerInputs, pseudo: Value | null): Value {
  const { cfg } = Wt;
  const [B, T] = inp.ids.shape;
  const W = cfg.width;
  let x = G.node('Gather', [Wt.tokenEmbedding, inp.ids], { shape: [B, T, W], needsGrad: false }, { axis: 0 });
  if (pseudo) {
    // x ← x + m·(v* − x): the embedding at `$` becomes v*, the rest is untouched
    const p3 = op.unsqueeze(G, pseudo, [1]); // [B, 1, W]
    x = op.add(G, x, op.mul(G, inp.pmask, op.sub(G, p3, x)));
  }
  const tLen = dimOf(G, inp.ids, 1);
  const offset = inp.prefixK ? dimOf(G, inp.prefixK, 3) : G.constInt64([0]);
  // positions offset..offset+T; mask rows offset..offset+T over columns 0..offset+T
  x = op.add(G, x, rowsAt(G, Wt.positionEmbedding, offset, tLen, [T, W]));
  const total = G.node('Add', [offset, tLen], { shape: [1], dtype: 'int64', needsGrad: false });
  const maskRows = rowsAt(G, Wt.causalMask, offset, tLen, [T, cfg.ctx]);
  const mask = G.node('Slice', [maskRows, G.constInt64([0]), total, G.constInt64([1])], { shape: [T, inp.prefixK ? 'PT' : T], needsGrad: false });
  const last = Wt.layers.length - 1;
  Wt.layers.forEach((L, l) => {
    const prefix = inp.prefixK && inp.prefixV ? {
      k: G.node('Gather', [inp.prefixK, G.constInt64([l], [])], { shape: inp.prefixK.shape.slice(1), needsGrad: false }, { axis: 0 }),
      v: G.node('Gather', [inp.prefixV, G.constInt64([l], [])], { shape: inp.prefixV.shape.slice(1), needsGrad: false }, { axis: 0 }),
    } : null;
    x = l < last ? encoderLayer(G, x, L, cfg.heads, cfg.eps, cfg.act, mask, prefix) : eotLayer(G, x, L, cfg, mask, inp.eot, prefix);
  });
  // the final LayerNorm is per position: normalising the EOT row alone is exact
  const atEot = op.squeeze(G, x, [1]); // [B, W]
  const normed = op.layerNorm(G, atEot, Wt.finalLn[0], Wt.finalLn[1], cfg.eps);
  return op.matmul(G, normed, Wt.projT); // [B, P]
}

/**
 * The prefix cache's producer: ids [B, P] → keys and values of every layer, [L, B, H, P, dh] each
 * (outputs `pk`, `pv`). Feeding them to a tower's prefix inputs continues the computation exactly.
 */
export function prefixKeyValues(G: Graph, Wt: TextWeights, ids: Value): { k: Value; v: Value } {
  const { cfg } = Wt;
  const [B, T] = ids.shape;
  let x = G.node('Gather', [Wt.tokenEmbedding, ids], { shape: [B, T, cfg.width] }, { axis: 0 });
  const tLen = dimOf(G, ids, 1);
  x = op.add(G, x, rowsAt(G, Wt.positionEmbedding, G.constInt64([0]), tLen, [T, cfg.width]));
  const maskRows = rowsAt(G, Wt.causalMask, G.constInt64([0]), tLen, [T, cfg.ctx]);
  const mask = G.node('Slice', [maskRows, G.constInt64([0]), tLen, G.constInt64([1])], { shape: [T, T] });
  const captured: KeyValues[] = [];
  // the last layer's output is not needed, only its keys and values
  for (const L of Wt.layers) x = encoderLayer(G, x, L, cfg.heads, cfg.eps, cfg.act, mask, null, captured);
  const stack = (vs: Value[]) => G.node('Concat', vs.map((v) => G.node('Unsqueeze', [v, G.constInt64([0])], { shape: [1, ...v.shape] })),
    { shape: [cfg.layers, ...vs[0].shape] }, { axis: 0 });
  return { k: stack(captured.map((c) => c.k)), v: stack(captured.map((c) => c.v)) };
}
