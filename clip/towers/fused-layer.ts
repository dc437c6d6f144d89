/**
 * A forward-only CLIP encoder layer from ONNX Runtime's fused kernels: LayerNormalization (opset 17),
 * com.microsoft Attention (packed QKV, scale 1/√dh applied inside, no mask) and com.microsoft
 * QuickGelu/Gelu. It has no VJPs: only inference graphs (the vision tower) use it; OTI and phi keep
 * the primitive builder in text-graph.ts.
 */
import type { Activation } from '../weights/config.ts';
import type { Dim, Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { type LinearWeights, linearWeights as linear, lnWeights as ln } from './text-graph.ts';
import { type WeightSource, transpose2d } from '../weights/weight-source.ts';

export const MS_DOMAIN = 'com.microsoft';

export interface FusedLayerWeights {
  ln1: [Value, Value]; ln2: [Value, Value];
  /** [W, 3W]: the transposed q, k, v weights side by side, as Attention wants them */
  qkv: Value; qkvBias: Value;
  o: LinearWeights; fc1: LinearWeights; fc2: LinearWeights;
}

export function fusedLayerWeights(G: Graph, src: WeightSource, prefix: string, W: number, mlp: number): FusedLayerWeights {
  const qkv = new Float32Array(W * 3 * W), bias = new Float32Array(3 * W);
  ['q_proj', 'k_proj', 'v_proj'].forEach((name, j) => {
    const wt = transpose2d(src.tensor(`${prefix}.self_attn.${name}.weight`), W, W); // [in, out]
    for (let r = 0; r < W; r++) qkv.set(wt.subarray(r * W, (r + 1) * W), r * 3 * W + j * W);
    bias.set(src.tensor(`${prefix}.self_attn.${name}.bias`), j * W);
  });
  return {
    ln1: ln(G, src, `${prefix}.layer_norm1`, W), ln2: ln(G, src, `${prefix}.layer_norm2`, W),
    qkv: G.weight(`${prefix}.self_attn.qkv.weight.T`, [W, 3 * W], qkv),
    qkvBias: G.weight(`${prefix}.self_attn.qkv.bias`, [3 * W], bias),
    o: linear(G, src, `${prefix}.self_attn.out_proj`, W, W),
    fc1: linear(G, src, `${prefix}.mlp.fc1`, mlp, W),
    fc2: linear(G, src, `${prefix}.mlp.fc2`, W, mlp),
  };
}

function layerNorm(G: Graph, x: Value, [g, b]: [Value, Value], eps: number): Value {
  return G.node('LayerNormalization', [x, g, b], { shape: x.shape }, { axis: -1, epsilon: { float: eps } });
}

/** x·w + b; op.linear flattens rows to 2-D around it so that ORT fuses the bias into a Gemm (no VJP is taped: nothing here needs gradients). */
function dense(G: Graph, x: Value, w: LinearWeights): Value {
  return op.linear(G, x, w.wt, w.b);
}

function mlp(G: Graph, x: Value, L: FusedLayerWeights, act: Activation): Value {
  const h = dense(G, x, L.fc1);
  const a = act === 'gelu'
    ? G.node('Gelu', [h], { shape: h.shape }, {}, MS_DOMAIN)
    : G.node('QuickGelu', [h], { shape: h.shape }, { alpha: { float: 1.702 } }, MS_DOMAIN);
  return dense(G, a, L.fc2);
}

/** Pre-LN transformer block (CLIPEncoderLayer) without a mask, forward only. */
export function fusedEncoderLayer(G: Graph, x: Value, L: FusedLayerWeights, heads: number, eps: number, act: Activation): Value {
  const attn = G.node('Attention', [layerNorm(G, x, L.ln1, eps), L.qkv, L.qkvBias], { shape: x.shape }, { num_heads: heads }, MS_DOMAIN);
  const x1 = G.node('Add', [x, dense(G, attn, L.o)], { shape: x.shape });
  return G.node('Add', [x1, mlp(G, layerNorm(G, x1, L.ln2, eps), L, act)], { shape: x.shape });
}

/**
 * The last block read at the first token (CLS) only, x [B, S, W] → [B, W]: every token still gives its
 * keys and values, but the query, attention output, residual and MLP are computed for CLS alone, the
 * only row the tower returns (com.microsoft MultiHeadAttention with a one-row query). Exact: those are per token.
 */
export function fusedFirstTokenLayer(G: Graph, x: Value, L: FusedLayerWeights, heads: number, eps: number, act: Activation): Value {
  const [B, S, W] = x.shape as [string | number, string | number, number];
  const h = layerNorm(G, x, L.ln1, eps);
  // the packed [W, 3W] weights' q columns and k, v columns (sliced once: ORT folds slices of constants)
  const cols = (t: Value, from: number, to: number, axis: number, shape: Dim[]) =>
    G.node('Slice', [t, G.constInt64([from]), G.constInt64([to]), G.constInt64([axis])], { shape });
  const kv = dense(G, h, { wt: cols(L.qkv, W, 3 * W, 1, [W, 2 * W]), b: cols(L.qkvBias, W, 3 * W, 0, [2 * W]) }); // [B, S, 2W]
  const [k, v] = G.nodeMulti('Split', [kv, G.constInt64([W, W])], [{ shape: [B, S, W] }, { shape: [B, S, W] }], { axis: 2 });
  const firstRow = (t: Value) => cols(t, 0, 1, 1, [B, 1, t.shape[2]]);
  const q = dense(G, firstRow(h), { wt: cols(L.qkv, 0, W, 1, [W, W]), b: cols(L.qkvBias, 0, W, 0, [W]) }); // [B, 1, W]
  const attn = G.node('MultiHeadAttention', [q, k, v], { shape: [B, 1, W] }, { num_heads: heads }, MS_DOMAIN);
  const x1 = G.node('Add', [firstRow(x), dense(G, attn, L.o)], { shape: [B, 1, W] });
  const out = G.node('Add', [x1, mlp(G, layerNorm(G, x1, L.ln2, eps), L, act)], { shape: [B, 1, W] });
  return G.node('Squeeze', [out, G.constInt64([1])], { shape: [B, W] });
}
