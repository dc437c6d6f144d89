/**
 * `starword embed-images --model DIR [--preprocess targetpad|plain]`: JSON lines on stdin, one out per
 * line in, in order:
 *   {"pixels": [3][H][W]} (already normalised)  → {"features": [floats]}
 *   {"path": file} (decoded and preprocessed)    → {"features": [floats]}
 *   a file that cannot be read                   → {"path": file, "error": reason}, and the run goes on
 *   a line with neither, or pixels of the wrong shape → {"error": reason}
 * Lines are batched as they arrive (whatever is waiting, up to --batch-size), so a caller that writes one
 * line and waits for its answer is served at once.
 */
import type { Command } from 'commander';
import { type PreprocessMode, preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { UserError } from '../../util/errors.ts';
import { type Options, embedImageStream } from '../embed-image-stream.ts';
import { positiveIntOption } from '../options.ts';
import { addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from '../shared-options.ts';

export function register(program: Command): void {
  const cmd = program.command('embed-images')
    .description('CLIP image features: JSON lines {"pixels": [3][H][W]} or {"path": file} on stdin → {"features": [...]} on stdout')
    .option('--preprocess <mode>', 'targetpad (SEARLE) | plain (CLIP resize + centre crop)', 'targetpad')
    .option('--batch-size <n>', 'images per encoder call', positiveIntOption, 16);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir'], requireModel: true });
  cmd.action(async (opts: Options) => {
    if (opts.preprocess !== 'targetpad' && opts.preprocess !== 'plain') throw new UserError(`--preprocess must be targetpad or plain, got '${opts.preprocess}'`);
    const mode: PreprocessMode = opts.preprocess;
    const { batchSize } = opts;
    const shared = sharedOptionsFrom(opts as unknown as Record<string, unknown>);
    const model = await loadClipModel(opts.model);
    const encoder = await createImageEncoder(model, { ...sessionOptionsFrom(shared), batchSize });
    const popts = preprocessOptions({
      imageSize: encoder.imageSize, preprocessorConfig: model.preprocessorConfig, mode,
    });
    await embedImageStream({ encoder, preprocess: (path) => preprocessImage(path, popts), batchSize });
  });
}
