/**
 * Embed, one declaration: CLIP image features of every planned image (SEARLE's targetpad preprocessing
 * by default), as features parts beside the images parts (run-embed.ts).
 */
import { z } from 'zod';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { hashJson } from '../../util/hash.ts';
import { rule } from '../../util/option-rules.ts';
import type { StageDefinition } from '../stage.ts';
import { type EmbedSummary, runEmbed } from './index.ts';

export const embedOptions = z.object({
  batchSize: rule.positiveInt().default(32).meta({ help: 'images per encoder call' }),
  preprocess: rule.oneOf(['targetpad', 'plain']).default('targetpad').meta({ help: 'targetpad (SEARLE) | plain (CLIP resize + centre crop)', value: '<mode>' }),
});

export const embedStage: StageDefinition<typeof embedOptions, EmbedSummary, { label?: string }> = {
  name: 'embed',
  summary: 'CLIP image features of every planned image, as features parts',
  input: ['images'],
  output: ['features'],
  options: embedOptions,
  config: (o) => ({ preprocess: o.preprocess }),
  async run(ctx, o) {
    const { model } = ctx;
    const encoder = await createImageEncoder(model, { ...ctx.session, batchSize: o.batchSize });
    const popts = preprocessOptions({ imageSize: encoder.imageSize, preprocessorConfig: model.preprocessorConfig, mode: o.preprocess });
    try {
      return await runEmbed({
        runDir: ctx.runDir,
        imageEncoder: encoder,
        preprocess: (path) => preprocessImage(path, popts),
        batchSize: o.batchSize,
        progress: ctx.progress(ctx.inputs.label ?? 'embed'),
        metadata: { 'starword.model_hash': model.hash, 'starword.preprocess': o.preprocess },
        provenance: { modelHash: model.hash, configHash: hashJson({ preprocess: o.preprocess }) },
        log: ctx.log,
      });
    } finally {
      await encoder.release?.(); // the later stages need the text tower only
    }
  },
  counts: (r) => ({ embedded: r.embedded, failed: r.failed, parts: r.parts, partsSkipped: r.partsSkipped }),
  resumedCounts: ['embedded', 'failed'],
};
