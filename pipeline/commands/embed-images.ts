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
import { preprocessImage, preprocessOptions } from '../../clip/preprocess.ts';
import { createImageEncoder } from '../../clip/vision-encoder.ts';
import { loadClipModel } from '../../clip/weights.ts';
import { DEVICE_FLAG, deviceOption, positiveIntOption } from '../options.ts';
import { preprocessMode } from '../stage-runners/embed.ts';
import { embedImageStream, Options } from '../embed-image-stream.ts';

export function register(program: Command): void {
  program.command('embed-images')
    .description('CLIP image features: JSON lines {"pixels": [3][H][W]} or {"path": file} on stdin → {"features": [...]} on stdout')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder (config.json + model.safetensors)')
    .option('--preprocess <mode>', 'targetpad (SEARLE) | plain (CLIP resize + centre crop)', 'targetpad')
    .option('--batch-size <n>', 'images per encoder call', positiveIntOption, 16)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', positiveIntOption)
    .option(...DEVICE_FLAG, deviceOption, 'cpu')
    .option('--cache-dir <dir>', 'ONNX graph cache (default: $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .action(async (opts: Options) => {
      const mode = preprocessMode(opts.preprocess);
      const { batchSize, threads } = opts;
      const model = await loadClipModel(opts.model);
      const encoder = await createImageEncoder(model, { threads, device: opts.device, cacheDir: opts.cacheDir, batchSize });
      const popts = preprocessOptions({
        imageSize: encoder.imageSize, preprocessorConfig: model.preprocessorConfig, mode,
      });
      await embedImageStream({ encoder, preprocess: (path) => preprocessImage(path, popts), batchSize });
    });
}
