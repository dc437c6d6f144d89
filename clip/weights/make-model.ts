/**
 * Random CLIP checkpoints in exact Hugging Face layout (config.json, model.safetensors,
 * preprocessor_config.json), for tests, benchmarks and the demo: speed does not depend on the values.
 *
 * Presets:
 * - b32: openai/clip-vit-base-patch32 dims (text 512/12 layers/8 heads/MLP 2048; vision 768/12/12/3072;
 *   224 px, patch 32; projection 512).
 * - l14: openai/clip-vit-large-patch14 dims (text 768/12/12/3072; vision 1024/24/16/4096; 224 px,
 *   patch 14; projection 768).
 * - tiny: the real 49,408-id vocabulary and 77-token context (so the real tokenizer's ids fit) and the
 *   real 224 px / patch 32 input (so real images go through the normal preprocessing), with small
 *   widths (64, 2 layers, 4 heads, MLP 128, projection 32): about 13 MB, made and loaded in well
 *   under a second; nearly all of it is the token embedding.
 * - h14: laion/CLIP-ViT-H-14-laion2B-s32B-b79K dims (text 1024/24 layers/16 heads/MLP 4096; vision
 *   1280/32/16/5120; 224 px, patch 14; projection 1024; gelu).
 * - bigg: laion/CLIP-ViT-bigG-14-laion2B-39B-b160k dims (text 1280/32/20/5120; vision 1664/48/16/8192;
 *   224 px, patch 14; projection 1280; gelu).
 * All presets use SOT 49406, EOT 49407, pad 1 and layer-norm eps 1e-5; the OpenAI shapes (tiny, b32, l14)
 * use quick_gelu as OpenAI's checkpoints do, the OpenCLIP shapes (h14, bigg) exact erf GELU (`hidden_act:
 * gelu`) as LAION's Hugging Face conversions declare.
 *
 * Values come from Rng(seed), drawn tensor by tensor in file order, so the same seed gives the same
 * bytes: matrices, biases, class and patch embeddings N(0, 0.02²) (biases random rather than HF's
 * zeros so a graph that drops one is visibly wrong), position embeddings N(0, 0.01²), LayerNorm
 * weight 1 / bias 0, logit_scale ln(1/0.07).
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomicAsync } from '../../util/atomic-write.ts';
import { join } from 'node:path';
import { Rng } from '../../util/rng.ts';
import { initialiseTensor } from './random-weights.ts';
import { UserError } from '../../util/errors.ts';
import { parseClipConfig, toHfConfig, type Activation, type ClipConfig } from './config.ts';
import { expectedClipTensors } from './clip-tensors.ts';
import { RANDOM_MODEL_MARK } from './model-origin.ts';
import { numel, writeSafetensors, type FloatDtype } from './safetensors.ts';

export const PRESETS = ['tiny', 'b32', 'l14', 'h14', 'bigg'] as const;
export type Preset = typeof PRESETS[number];

/** Architecture knobs a preset fixes and `overrides` may change. */
export interface ModelDims {
  textWidth: number; textLayers: number; textHeads: number; textMlp: number; vocab: number; ctx: number;
  visionWidth: number; visionLayers: number; visionHeads: number; visionMlp: number; imageSize: number; patchSize: number;
  projectionDim: number;
  /** MLP activation of both towers */
  act: Activation;
}

const PRESET_DIMS: Record<Preset, ModelDims> = {
  tiny: {
    textWidth: 64, textLayers: 2, textHeads: 4, textMlp: 128, vocab: 49408, ctx: 77,
    visionWidth: 64, visionLayers: 2, visionHeads: 4, visionMlp: 128, imageSize: 224, patchSize: 32, projectionDim: 32, act: 'quick_gelu',
  },
  b32: {
    textWidth: 512, textLayers: 12, textHeads: 8, textMlp: 2048, vocab: 49408, ctx: 77,
    visionWidth: 768, visionLayers: 12, visionHeads: 12, visionMlp: 3072, imageSize: 224, patchSize: 32, projectionDim: 512, act: 'quick_gelu',
  },
  l14: {
    textWidth: 768, textLayers: 12, textHeads: 12, textMlp: 3072, vocab: 49408, ctx: 77,
    visionWidth: 1024, visionLayers: 24, visionHeads: 16, visionMlp: 4096, imageSize: 224, patchSize: 14, projectionDim: 768, act: 'quick_gelu',
  },
  h14: {
    textWidth: 1024, textLayers: 24, textHeads: 16, textMlp: 4096, vocab: 49408, ctx: 77,
    visionWidth: 1280, visionLayers: 32, visionHeads: 16, visionMlp: 5120, imageSize: 224, patchSize: 14, projectionDim: 1024, act: 'gelu',
  },
  bigg: {
    textWidth: 1280, textLayers: 32, textHeads: 20, textMlp: 5120, vocab: 49408, ctx: 77,
    visionWidth: 1664, visionLayers: 48, visionHeads: 16, visionMlp: 8192, imageSize: 224, patchSize: 14, projectionDim: 1280, act: 'gelu',
  },
};

export function isPreset(name: string): name is Preset { return (PRESETS as readonly string[]).includes(name); }

/** The config a preset (plus overrides) describes, checked as any config.json would be. */
export function presetConfig(preset: Preset, overrides: Partial<ModelDims> = {}): ClipConfig {
  const d = { ...PRESET_DIMS[preset], ...overrides };
  const cfg: ClipConfig = {
    text: {
      width: d.textWidth, layers: d.textLayers, heads: d.textHeads, mlp: d.textMlp, vocab: d.vocab, ctx: d.ctx,
      act: d.act, eps: 1e-5, bos: 49406, eos: 49407, pad: 1,
    },
    vision: {
      width: d.visionWidth, layers: d.visionLayers, heads: d.visionHeads, mlp: d.visionMlp,
      imageSize: d.imageSize, patchSize: d.patchSize, channels: 3, act: d.act, eps: 1e-5,
    },
    projectionDim: d.projectionDim,
  };
  if (cfg.text.bos >= cfg.text.vocab) { cfg.text.bos = cfg.text.vocab - 2; cfg.text.eos = cfg.text.vocab - 1; } // small test vocabularies
  return parseClipConfig(toHfConfig(cfg), `preset ${preset}`);
}

/** HF CLIPImageProcessor settings for this input size (what the openai checkpoints ship). */
function preprocessorConfig(cfg: ClipConfig): Record<string, unknown> {
  const s = cfg.vision.imageSize;
  return {
    crop_size: { height: s, width: s }, do_center_crop: true, do_convert_rgb: true, do_normalize: true,
    do_rescale: true, do_resize: true, image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_processor_type: 'CLIPImageProcessor', image_std: [0.26862954, 0.26130258, 0.27577711],
    processor_class: 'CLIPProcessor', resample: 3, rescale_factor: 1 / 255, size: { shortest_edge: s },
  };
}

export interface MakeModelOptions {
  preset: Preset; seed: number; outDir: string;
  dtype?: FloatDtype;
  overrides?: Partial<ModelDims>;
}

export interface MadeModel { dir: string; config: ClipConfig; bytes: number; files: string[] }

export async function makeRandomModel(opts: MakeModelOptions): Promise<MadeModel> {
  if (!isPreset(opts.preset)) throw new UserError(`unknown preset '${String(opts.preset)}' (choose ${PRESETS.join(', ')})`);
  const config = presetConfig(opts.preset, opts.overrides);
  await mkdir(opts.outDir, { recursive: true });
  const rng = new Rng(opts.seed);
  const dtype = opts.dtype ?? 'F32';
  // Name order, as HF's own writer sorts them; each tensor is drawn only when the writer reaches it.
  const specs = expectedClipTensors(config).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const weightsBytes = await writeSafetensors(
    join(opts.outDir, 'model.safetensors'),
    specs.map((spec) => ({ name: spec.name, shape: spec.shape, dtype, data: () => initialiseTensor(spec.name, new Float32Array(numel(spec.shape)), rng) })),
    { format: 'pt' },
  );
  // The mark tells a random model from a real checkpoint (see clip/weights/model-origin.ts); HF ignores unknown keys.
  const configText = `${JSON.stringify({ ...toHfConfig(config), [RANDOM_MODEL_MARK]: { preset: opts.preset, seed: opts.seed } }, null, 2)}\n`;
  const preText = `${JSON.stringify(preprocessorConfig(config), null, 2)}\n`;
  await writeFileAtomicAsync(join(opts.outDir, 'config.json'), configText);
  await writeFileAtomicAsync(join(opts.outDir, 'preprocessor_config.json'), preText);
  return {
    dir: opts.outDir, config,
    bytes: weightsBytes + Buffer.byteLength(configText) + Buffer.byteLength(preText),
    files: ['config.json', 'model.safetensors', 'preprocessor_config.json'],
  };
}
