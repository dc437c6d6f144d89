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
import type { Activation, TextConfig } from './config.ts';
import type { Graph, Value } from './graph/graph.ts';
import * as op from './graph/ops.ts';
import { type WeightSource, transpose2d } from './weight-source.ts';

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

/** Multi-head self-attention on x [B, T, W]; `mask` [T, T] added to the scores (or null). */
export function selfAttention(G: Graph, x: Value, L: LayerWeights, heads: number, mask: Value | null): Value {
  const [B, T, W] = x.shape;
  const dh = (W as number) / heads;
  // q, k, v: [B, T, W] → [B, H, T, dh]; k as [B, H, dh, T] for the score product
  const q = op.scale(G, op.linear(G, x, L.q.wt, L.q.b), 1 / Math.sqrt(dh));
  const k = op.linear(G, x, L.k.wt, L.k.b);
  const v = op.linear(G, x, L.v.wt, L.v.b);
  const split = (t: Value) => op.reshape(G, t, [0, 0, heads, dh], [B, T, heads, dh]);
  const qh = op.transpose(G, split(q), [0, 2, 1, 3]);
  const kh = op.transpose(G, split(k), [0, 2, 3, 1]);
  const vh = op.transpose(G, split(v), [0, 2, 1, 3]);
  let scores = op.matmul(G, qh, kh); // [B, H, T, T]
  if (mask) scores = op.add(G, scores, mask);
  const probs = op.softmax(G, scores);
  const ctx = op.transpose(G, op.matmul(G, probs, vh), [0, 2, 1, 3]); // [B, T, H, dh]
  const merged = op.reshape(G, ctx, [0, 0, W as number], [B, T, W]);
  return op.linear(G, merged, L.o.wt, L.o.b);
}

/** Pre-LN transformer block (CLIPEncoderLayer). */
export function encoderLayer(G: Graph, x: Value, L: LayerWeights, heads: number, eps: number, act: Activation, mask: Value | null): Value {
  const h = selfAttention(G, op.layerNorm(G, x, L.ln1[0], L.ln1[1], eps), L, heads, mask);
  const x1 = op.add(G, x, h);
  const m = op.linear(G, activation(G, op.linear(G, op.layerNorm(G, x1, L.ln2[0], L.ln2[1], eps), L.fc1.wt, L.fc1.b), act), L.fc2.wt, L.fc2.b);
  return op.add(G, x1, m);
}

export interface TextTowerInputs { ids: Value; pmask: Value; eot: Value }

/** Declares a tower's three inputs under `prefix`, with batch dim `batch` and length dim `len`. */
export function textTowerInputs(G: Graph, prefix: string, batch: string, len: string): TextTowerInputs {
  return {
    ids: G.input(`${prefix}_ids`, 'int64', [batch, len]),
    pmask: G.input(`${prefix}_pmask`, 'float', [batch, len, 1]),
    eot: G.input(`${prefix}_eot`, 'float', [batch, 1, len]),
  };
}

/**
 * Text features [B, P] (unnormalised, as HF get_text_features). `pseudo` [B, W] replaces the token
 * embedding where pmask is 1; pass null for plain text.
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
  // positions and mask cut to this tower's T
  const shape = G.node('Shape', [inp.ids], { shape: [2], dtype: 'int64', needsGrad: false });
  const tLen = G.node('Slice', [shape, G.constInt64([1]), G.constInt64([2])], { shape: [1], dtype: 'int64', needsGrad: false });
  const pos = G.node('Slice', [Wt.positionEmbedding, G.constInt64([0]), tLen, G.constInt64([0])], { shape: [T, W], needsGrad: false });
  const tt = G.node('Concat', [tLen, tLen], { shape: [2], dtype: 'int64', needsGrad: false }, { axis: 0 });
  const mask = G.node('Slice', [Wt.causalMask, G.constInt64([0, 0]), tt, G.constInt64([0, 1])], { shape: [T, T], needsGrad: false });
  x = op.add(G, x, pos);
  for (const L of Wt.layers) x = encoderLayer(G, x, L, cfg.heads, cfg.eps, cfg.act, mask);
  // read the EOT row first: the final LayerNorm is per position, so this is exact and saves work
  const atEot = op.squeeze(G, op.matmul(G, inp.eot, x), [1]); // [B, W]
  const normed = op.layerNorm(G, atEot, Wt.finalLn[0], Wt.finalLn[1], cfg.eps);
  return op.matmul(G, normed, Wt.projT); // [B, P]
}
