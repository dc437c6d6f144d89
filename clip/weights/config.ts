/**
 * CLIP architecture read from a Hugging Face `config.json` (CLIPModel layout). Only what the graphs
 * need is kept, under short names; HF's defaults fill what the file leaves out.
 */
import { z } from 'zod';
import { UserError } from '../../util/errors.ts';

export type Activation = 'quick_gelu' | 'gelu';

export interface TextConfig {
  width: number; layers: number; heads: number; mlp: number;
  vocab: number; ctx: number; act: Activation; eps: number;
  bos: number; eos: number; pad: number;
}

export interface VisionConfig {
  width: number; layers: number; heads: number; mlp: number;
  imageSize: number; patchSize: number; channels: number; act: Activation; eps: number;
}

export interface ClipConfig { text: TextConfig; vision: VisionConfig; projectionDim: number }

/**
 * quick_gelu (x·σ(1.702x), OpenAI's checkpoints) and gelu (exact erf GELU, torch's nn.GELU default and
 * HF ACT2FN['gelu'], LAION's OpenCLIP conversions); the tanh approximations would not be exact, so they are refused.
 */
const activation = z.enum(['quick_gelu', 'gelu'], {
  error: (iss) => `'${String(iss.input)}' is not supported (starword computes quick_gelu and gelu, the exact erf GELU)`,
});
const textSchema = z.object({
  hidden_size: z.number().int().positive().default(512),
  num_hidden_layers: z.number().int().positive().default(12),
  num_attention_heads: z.number().int().positive().default(8),
  intermediate_size: z.number().int().positive().default(2048),
  vocab_size: z.number().int().positive().default(49408),
  max_position_embeddings: z.number().int().positive().default(77),
  hidden_act: activation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  bos_token_id: z.number().int().default(49406),
  eos_token_id: z.number().int().default(49407),
  pad_token_id: z.number().int().default(1),
}).loose();
const visionSchema = z.object({
  hidden_size: z.number().int().positive().default(768),
  num_hidden_layers: z.number().int().positive().default(12),
  num_attention_heads: z.number().int().positive().default(12),
  intermediate_size: z.number().int().positive().default(3072),
  image_size: z.number().int().positive().default(224),
  patch_size: z.number().int().positive().default(32),
  num_channels: z.number().int().positive().default(3),
  hidden_act: activation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
}).loose();
const clipSchema = z.object({
  text_config: textSchema.default(textSchema.parse({})),
  vision_config: visionSchema.default(visionSchema.parse({})),
  projection_dim: z.number().int().positive().default(512),
}).loose();

/** Parses and checks a CLIPModel config.json object; `source` names the file in errors. */
export function parseClipConfig(json: unknown, source: string): ClipConfig {
  const parsed = clipSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${source}: ${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  const t = parsed.data.text_config, v = parsed.data.vision_config;
  // OpenAI's checkpoints on the Hub (and conversions of that time) still declare the pre-2023 bos 0 / eos 2;
  // transformers treats any eos 2 as that legacy case and reads the EOT as the row's largest id, which for
  // CLIP's vocabulary is its last id, 49407 (SOT the one below; bos 0 alongside it is just as stale).
  if (t.eos_token_id === 2) {
    t.eos_token_id = t.vocab_size - 1;
    if (t.bos_token_id === 0) t.bos_token_id = t.vocab_size - 2;
  }
  const cfg: ClipConfig = {
    text: {
      width: t.hidden_size, layers: t.num_hidden_layers, heads: t.num_attention_heads, mlp: t.intermediate_size,
      vocab: t.vocab_size, ctx: t.max_position_embeddings, act: t.hidden_act, eps: t.layer_norm_eps,
      bos: t.bos_token_id, eos: t.eos_token_id, pad: t.pad_token_id,
    },
    vision: {
      width: v.hidden_size, layers: v.num_hidden_layers, heads: v.num_attention_heads, mlp: v.intermediate_size,
      imageSize: v.image_size, patchSize: v.patch_size, channels: v.num_channels, act: v.hidden_act, eps: v.layer_norm_eps,
    },
    projectionDim: parsed.data.projection_dim,
  };
  if (cfg.text.width % cfg.text.heads !== 0) throw new UserError(`${source}: text hidden_size ${cfg.text.width} is not divisible by num_attention_heads ${cfg.text.heads}`);
  if (cfg.vision.width % cfg.vision.heads !== 0) throw new UserError(`${source}: vision hidden_size ${cfg.vision.width} is not divisible by num_attention_heads ${cfg.vision.heads}`);
  if (cfg.vision.imageSize % cfg.vision.patchSize !== 0) throw new UserError(`${source}: image_size ${cfg.vision.imageSize} is not a multiple of patch_size ${cfg.vision.patchSize}`);
  return cfg;
}

/** Back to HF's config.json form (for make-model). */
export function toHfConfig(cfg: ClipConfig): Record<string, unknown> {
  return {
    architectures: ['CLIPModel'], model_type: 'clip', projection_dim: cfg.projectionDim,
    text_config: {
      hidden_size: cfg.text.width, num_hidden_layers: cfg.text.layers, num_attention_heads: cfg.text.heads,
      intermediate_size: cfg.text.mlp, vocab_size: cfg.text.vocab, max_position_embeddings: cfg.text.ctx,
      hidden_act: cfg.text.act, layer_norm_eps: cfg.text.eps,
      bos_token_id: cfg.text.bos, eos_token_id: cfg.text.eos, pad_token_id: cfg.text.pad,
    },
    vision_config: {
      hidden_size: cfg.vision.width, num_hidden_layers: cfg.vision.layers, num_attention_heads: cfg.vision.heads,
      intermediate_size: cfg.vision.mlp, image_size: cfg.vision.imageSize, patch_size: cfg.vision.patchSize,
      num_channels: cfg.vision.channels, hidden_act: cfg.vision.act, layer_norm_eps: cfg.vision.eps,
    },
  };
}
