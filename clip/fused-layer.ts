/**
 * A forward-only CLIP encoder layer from ONNX Runtime's fused kernels: LayerNormalization (opset 17),
 * com.microsoft Attention (packed QKV, scale 1/√dh applied inside, no mask) and com.microsoft
 * QuickGelu/Gelu. It has no VJPs: only inference graphs (the vision tower) use it; OTI and phi keep
 * the primitive builder in text-graph.ts.
 */
import type { Activation } from './config.ts';
import type { Graph, Value } from './graph/graph.ts';
import { type LinearWeights, linearWeights as linear, lnWeights as ln } from './text-graph.ts';
import { type WeightSource, transpose2d } from './weight-source.ts';

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

/** x·w + b on [B, T, in]; ORT fuses MatMul + Add into one GEMM-with-bias kernel. */
function dense(G: Graph, x: Value, w: LinearWeights): Value {
  const shape = [...x.shape.slice(0, -1), w.wt.shape[1]];
  return G.node('Add', [G.node('MatMul', [x, w.wt], { shape }), w.b], { shape });
}

/** Pre-LN transformer block (CLIPEncoderLayer) without a mask, forward only. */
export function fusedEncoderLayer(G: Graph, x: Value, L: FusedLayerWeights, heads: number, eps: number, act: Activation): Value {
  const attn = G.node('Attention', [layerNorm(G, x, L.ln1, eps), L.qkv, L.qkvBias], { shape: x.shape }, { num_heads: heads }, MS_DOMAIN);
  const x1 = G.node('Add', [x, dense(G, attn, L.o)], { shape: x.shape });
  const h = dense(G, layerNorm(G, x1, L.ln2, eps), L.fc1);
  const a = act === 'gelu'
    ? G.node('Gelu', [h], { shape: h.shape }, {}, MS_DOMAIN)
    : G.node('QuickGelu', [h], { shape: h.shape }, { alpha: { float: 1.702 } }, MS_DOMAIN);
  return G.node('Add', [x1, dense(G, a, L.fc2)], { shape: x.shape });
}
