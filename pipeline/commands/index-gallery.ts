/**
 * `starword index --model DIR --images DIR|CSV --out DIR`: a gallery index for retrieval = the ingest and
 * embed stages on the gallery images. The index is a run folder; its embed/features-NNNNN.arrow parts
 * are what `retrieve` and `evaluate` read (`--index` takes the run folder). Resumable like any run:
 * rerunning redoes only the parts without their done marker.
 * (File named index-gallery.ts because pipeline/commands/index.ts is the command registry.)
 */
import type { Command } from 'commander';
import { preprocessImage, preprocessOptions, type PreprocessMode } from '../../clip/preprocess.ts';
import { createImageEncoder } from '../../clip/vision-encoder.ts';
import { loadClipModel } from '../../clip/weights.ts';
import { runEmbed } from '../../stages/embed/index.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { UserError } from '../../util/errors.ts';
import { positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

interface Options {
  model: string; images: string; out: string; partSize: number; batchSize: number; preprocess: string;
  threads?: number; device: string; cacheDir?: string; allowOutside?: boolean; force?: boolean; logJson?: boolean;
}

export async function runIndex(opts: Options): Promise<void> {
  if (opts.preprocess !== 'targetpad' && opts.preprocess !== 'plain') throw new UserError(`--preprocess must be targetpad or plain, got '${opts.preprocess}'`);
  if (opts.device !== 'cpu' && opts.device !== 'cuda') throw new UserError(`--device must be cpu or cuda, got '${opts.device}'`);
  const model = await loadClipModel(opts.model);
  const ingest = await runIngest({ source: opts.images, runDir: opts.out, partSize: opts.partSize, allowOutside: opts.allowOutside, force: opts.force });
  const encoder = await createImageEncoder(model, { threads: opts.threads, device: opts.device, cacheDir: opts.cacheDir, batchSize: opts.batchSize });
  const popts = preprocessOptions({ imageSize: encoder.imageSize, preprocessorConfig: model.preprocessorConfig, mode: opts.preprocess as PreprocessMode });
  const summary = await runEmbed({
    runDir: opts.out,
    imageEncoder: encoder,
    preprocess: (path) => preprocessImage(path, popts),
    batchSize: opts.batchSize,
    progress: createProgress('index', { logJson: opts.logJson }),
    metadata: { 'starword.model_hash': model.hash, 'starword.preprocess': opts.preprocess },
  });
  process.stderr.write(`index: ${ingest.plan.images} images in ${ingest.plan.parts} parts; embedded ${summary.embedded} now, `
    + `${summary.failed} failed, ${summary.partsSkipped} parts already done (${summary.seconds.toFixed(1)} s)\n`);
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
    .option('--device <name>', 'cpu | cuda', 'cpu')
    .option('--cache-dir <dir>', 'ONNX graph cache (default: $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--allow-outside', 'let manifest paths leave the manifest\'s folder')
    .option('--force', 'replan a folder indexed from other images')
    .option('--log-json', 'progress as JSON lines on stderr')
    .action(async (opts: Options) => runIndex(opts));
}
