/** Ingest + embed as `run` and `index` drive them. */
import type { Device } from '../../clip/onnx-session.ts';
import type { Command } from 'commander';
import { z } from 'zod';
import { type PreprocessMode, preprocessImage, preprocessOptions } from '../../clip/preprocess.ts';
import { createImageEncoder } from '../../clip/vision-encoder.ts';
import type { ClipModel } from '../../clip/weights.ts';
import { type EmbedSummary, runEmbed } from '../../stages/embed/index.ts';
import { type IngestSummary, type SourceListing, runIngest } from '../../stages/ingest/index.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';
import { sessionOptions } from '../model-loading.ts';
import { checkOptions, kebabFlag, rule } from '../option-checks.ts';
import { positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

export interface EmbedCliOptions {
  partSize: number; batchSize: number; preprocess: string; allowOutside?: boolean; force?: boolean;
  threads?: number; device?: Device; cacheDir?: string; logJson?: boolean;
}

export function addEmbedOptions(cmd: Command): Command {
  return cmd
    .option('--part-size <n>', 'images per part', positiveIntOption, 1000)
    .option('--batch-size <n>', 'images per encoder call', positiveIntOption, 32)
    .option('--preprocess <mode>', 'targetpad (SEARLE) | plain (CLIP resize + centre crop)', 'targetpad')
    .option('--allow-outside', 'let manifest paths leave the manifest\'s folder');
}

/** Ingest's and embed's option rules. */
export const embedOptionsSchema = z.object({
  partSize: rule.positiveInt(), batchSize: rule.positiveInt(), preprocess: rule.oneOf(['targetpad', 'plain']),
});

export function checkEmbedOptions(o: EmbedCliOptions): void {
  checkOptions(embedOptionsSchema, o, kebabFlag());
}

export function preprocessMode(value: string): PreprocessMode {
  if (value !== 'targetpad' && value !== 'plain') throw new UserError(`--preprocess must be targetpad or plain, got '${value}'`);
  return value;
}

export async function ingestStage(source: string, runDir: string, shard: { index: number; count: number }, o: EmbedCliOptions,
  listing?: SourceListing, log?: (line: string) => void): Promise<IngestSummary> {
  return runIngest({ source, runDir, shard, partSize: o.partSize, allowOutside: o.allowOutside, force: o.force, listing, log });
}

export async function embedStage(runDir: string, model: ClipModel, o: EmbedCliOptions, label = 'embed',
  log?: (line: string) => void): Promise<EmbedSummary> {
  const mode = preprocessMode(o.preprocess);
  const encoder = await createImageEncoder(model, { ...sessionOptions(o), batchSize: o.batchSize });
  const popts = preprocessOptions({ imageSize: encoder.imageSize, preprocessorConfig: model.preprocessorConfig, mode });
  try {
    return await runEmbed({
      runDir,
      imageEncoder: encoder,
      preprocess: (path) => preprocessImage(path, popts),
      batchSize: o.batchSize,
      progress: createProgress(label, { logJson: o.logJson }),
      metadata: { 'starword.model_hash': model.hash, 'starword.preprocess': mode },
      provenance: { modelHash: model.hash, configHash: hashJson({ preprocess: mode }) },
      log,
    });
  } finally {
    await encoder.release?.(); // the later stages need the text tower only
  }
}
