/**
 * Every tensor Hugging Face's CLIPModel stores, with the shape its config implies. The names are HF's
 * own (including the vision tower's "pre_layrnorm", sic). Buffers HF may also store, such as
 * `*.embeddings.position_ids`, are not parameters and are not listed.
 */
import type { ClipConfig } from './config.ts';

export interface TensorSpec { name: string; shape: number[] }

/** One encoder layer's tensors: attention, MLP and the two pre-norms. */
function encoderLayer(prefix: string, width: number, mlp: number): TensorSpec[] {
  const out: TensorSpec[] = [];
  for (const ln of ['layer_norm1', 'layer_norm2']) {
    out.push({ name: `${prefix}.${ln}.weight`, shape: [width] }, { name: `${prefix}.${ln}.bias`, shape: [width] });
  }
  for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
    out.push({ name: `${prefix}.self_attn.${p}.weight`, shape: [width, width] }, { name: `${prefix}.self_attn.${p}.bias`, shape: [width] });
  }
  // torch Linear weights are [out, in].
  out.push(
    { name: `${prefix}.mlp.fc1.weight`, shape: [mlp, width] }, { name: `${prefix}.mlp.fc1.bias`, shape: [mlp] },
    { name: `${prefix}.mlp.fc2.weight`, shape: [width, mlp] }, { name: `${prefix}.mlp.fc2.bias`, shape: [width] },
  );
  return out;
}

function layerNorm(name: string, width: number): TensorSpec[] {
  return [{ name: `${name}.weight`, shape: [width] }, { name: `${name}.bias`, shape: [width] }];
}

export function expectedClipTensors(cfg: ClipConfig): TensorSpec[] {
  const t = cfg.text, v = cfg.vision, proj = cfg.projectionDim;
  const patches = (v.imageSize / v.patchSize) ** 2;
  const out: TensorSpec[] = [
    { name: 'text_model.embeddings.token_embedding.weight', shape: [t.vocab, t.width] },
    { name: 'text_model.embeddings.position_embedding.weight', shape: [t.ctx, t.width] },
  ];
  for (let i = 0; i < t.layers; i++) out.push(...encoderLayer(`text_model.encoder.layers.${i}`, t.width, t.mlp));
  out.push(
    ...layerNorm('text_model.final_layer_norm', t.width),
    { name: 'text_projection.weight', shape: [proj, t.width] },
    { name: 'vision_model.embeddings.class_embedding', shape: [v.width] },
    { name: 'vision_model.embeddings.patch_embedding.weight', shape: [v.width, v.channels, v.patchSize, v.patchSize] },
    { name: 'vision_model.embeddings.position_embedding.weight', shape: [patches + 1, v.width] },
    ...layerNorm('vision_model.pre_layrnorm', v.width),
  );
  for (let i = 0; i < v.layers; i++) out.push(...encoderLayer(`vision_model.encoder.layers.${i}`, v.width, v.mlp));
  out.push(
    ...layerNorm('vision_model.post_layernorm', v.width),
    { name: 'visual_projection.weight', shape: [proj, v.width] },
    { name: 'logit_scale', shape: [] },
  );
  return out;
}
