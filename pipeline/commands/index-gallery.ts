/**
 * `starword index --model DIR --images DIR|CSV --out DIR`: a gallery index for retrieval = the ingest and
 * embed stages on the gallery images. The index is a run folder; its embed/features-NNNNN.arrow parts
 * are what `retrieve` and `evaluate` read (`--index` takes the run folder). Resumable like any run:
 * rerunning redoes only the parts without their done marker.
 * (File named index-gallery.ts because pipeline/commands/index.ts is the command registry.)
 */
import type { Command } from 'commander';
import { loadClipModel } from '../../clip/weights.ts';
import { type Device, DEVICE_FLAG, deviceOption, positiveIntOption } from '../options.ts';
import { underLock } from '../run-manifest.ts';
import { embedStage, ingestStage, preprocessMode } from '../stage-runners/embed.ts';

interface Options {
  model: string; images: string; out: string; partSize: number; batchSize: number; preprocess: string;
  threads?: number; device: Device; cacheDir?: string; allowOutside?: boolean; force?: boolean; logJson?: boolean;
}

export async function runIndex(opts: Options): Promise<void> {
  preprocessMode(opts.preprocess);
  const model = await loadClipModel(opts.model);
  const { lock } = underLock(opts.out, 'index', () => undefined); // one writer of the index folder
  const ingest = await ingestStage(opts.images, opts.out, { index: 0, count: 1 }, { ...opts, device: undefined });
  const summary = await embedStage(opts.out, model, { ...opts, device: opts.device as Device }, 'index');
  process.stderr.write(`index: ${ingest.plan.images} images in ${ingest.plan.parts} parts; embedded ${summary.embedded} now, `
    + `${summary.failed} failed, ${summary.partsSkipped} parts already done (${summary.seconds.toFixed(1)} s)\n`);
  lock.release();
  process.stdout.write(`${opts.out}\n`);
}

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
