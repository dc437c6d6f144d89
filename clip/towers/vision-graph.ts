/**
 * CLIP's vision tower as graph ops (HF CLIPVisionModel + visual_projection): patch conv, CLS token,
 * positions, pre-LN ("pre_layrnorm", sic), encoder, post-LN on CLS, projection. No gradients needed.
 *
 * Input: pixels [B, 3, S, S] normalised. Output: features [B, P] unnormalised.
 */
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { encoderLayer, encoderLayerWeights, eotLayer, lnWeights } from './text-graph.ts';
import { fusedEncoderLayer, fusedFirstTokenLayer, fusedLayerWeights } from './fused-layer.ts';
import { type WeightSource, transpose2d } from '../weights/weight-source.ts';

/** `fused` (default) builds the layers from ORT's fused kernels (clip/towers/fused-layer.ts); false, from primitive ops. */
export function visionTower(G: Graph, src: WeightSource, pixels: Value, fused = true): Value {
  const cfg = src.config.vision, W = cfg.width, P = src.config.projectionDim;
  const grid = cfg.imageSize / cfg.patchSize, N = grid * grid;
  const B = pixels.shape[0];
  const patchW = G.weight('vision_model.embeddings.patch_embedding.weight', [W, cfg.channels, cfg.patchSize, cfg.patchSize],
    src.tensor('vision_model.embeddings.patch_embedding.weight'));
  const cls = G.weight('vision_model.embeddings.class_embedding', [1, 1, W], src.tensor('vision_model.embeddings.class_embedding'));
  const pos = G.weight('vision_model.embeddings.position_embedding.weight', [N + 1, W], src.tensor('vision_model.embeddings.position_embedding.weight'));

  // [B, 3, S, S] → conv → [B, W, g, g] → [B, W, N] → [B, N, W]
  const conv = G.node('Conv', [pixels, patchW], { shape: [B, W, grid, grid] },
    { kernel_shape: [cfg.patchSize, cfg.patchSize], strides: [cfg.patchSize, cfg.patchSize] });
  const patches = G.node('Transpose', [G.node('Reshape', [conv, G.constInt64([0, W, N])], { shape: [B, W, N] })], { shape: [B, N, W] }, { perm: [0, 2, 1] });
  // CLS row per image: broadcast [1, 1, W] to [B, 1, W] using the batch size of the input
  const batch = G.node('Slice', [G.node('Shape', [pixels], { shape: [4], dtype: 'int64' }), G.constInt64([0]), G.constInt64([1])], { shape: [1], dtype: 'int64' });
  const clsShape = G.node('Concat', [batch, G.constInt64([1, W])], { shape: [3], dtype: 'int64' }, { axis: 0 });
  const clsRows = G.node('Expand', [cls, clsShape], { shape: [B, 1, W] });
  let x = G.node('Concat', [clsRows, patches], { shape: [B, N + 1, W] }, { axis: 1 });
  x = op.add(G, x, pos);
  x = op.layerNorm(G, x, ...lnWeights(G, src, 'vision_model.pre_layrnorm', W), cfg.eps);
  let pooled: Value | null = null; // [B, W], the CLS row
  for (let l = 0; l < cfg.layers; l++) {
    const prefix = `vision_model.encoder.layers.${l}`;
    if (!fused) {
      const weights = encoderLayerWeights(G, src, prefix, W, cfg.mlp);
      if (l < cfg.layers - 1) x = encoderLayer(G, x, weights, cfg.heads, cfg.eps, cfg.act, null);
      else pooled = op.squeeze(G, eotLayer(G, x, weights, cfg, null, G.constFloat(Array.from({ length: N + 1 }, (_, i) => (i ? 0 : 1)), [1, 1, N + 1])), [1]);
      continue;
    }
    const weights = fusedLayerWeights(G, src, prefix, W, cfg.mlp);
    // only CLS is read: the last block computes its row alone
    if (l < cfg.layers - 1) x = fusedEncoderLayer(G, x, weights, cfg.heads, cfg.eps, cfg.act);
    else pooled = fusedFirstTokenLayer(G, x, weights, cfg.heads, cfg.eps, cfg.act);
  }
  pooled ??= G.node('Gather', [x, G.constInt64([0], [])], { shape: [B, W] }, { axis: 1 });
  const normed = op.layerNorm(G, pooled, ...lnWeights(G, src, 'vision_model.post_layernorm', W), cfg.eps);
  const projT = G.weight('visual_projection.weight.T', [W, P], transpose2d(src.tensor('visual_projection.weight'), P, W));
  return op.matmul(G, normed, projT);
}
