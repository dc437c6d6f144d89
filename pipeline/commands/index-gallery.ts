/**
 * `starword index --model DIR --images DIR|CSV --out DIR`: a gallery index for retrieval = the ingest and
 * embed stages on the gallery images. The index is a run folder; its embed/features-NNNNN.arrow parts
 * are what `retrieve` and `evaluate` read (`--index` takes the run folder). Resumable like any run:
 * rerunning redoes only the parts without their done marker.
 * (File named index-gallery.ts because pipeline/commands/index.ts is the command registry.)
 */
import type { Command } from 'commander';
import { DEVICE_FLAG, deviceOption, positiveIntOption } from '../options.ts';
import { Options, runIndex } from '../index-gallery.ts';

export function register(program: Command): void {
  program.command('index')
    .description('gallery image features for retrieve/evaluate: ingest + embed into a run folder')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder (config.json + model.safetensors)')
    .requiredOption('--images <dir|csv>', 'a folder of images or a CSV manifest (path column, optional id column)')
    .requiredOption('--out <dir>', 'the index (a run folder)')
    .option('--part-size <n>', 'images per part', positiveIntOption, 1000)
    .option('--batch-size <n>', 'images per encoder call', positiveIntOption, 32)
    .option('--preprocess <mode>', 'targetpad (SEARLE) | plain (CLIP resize + centre crop)', 'targetpad')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', positiveIntOption)
    .option(...DEVICE_FLAG, deviceOption, 'cpu')
    .option('--cache-dir <dir>', 'ONNX graph cache (default: $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--allow-outside', 'let manifest paths leave the manifest\'s folder')
    .option('--force', 'replan a folder indexed from other images')
    .option('--log-json', 'progress as JSON lines on stderr')
    .action(async (opts: Options) => runIndex(opts));
}
