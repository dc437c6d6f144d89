/**
 * `starword concepts --model DIR --features PARTS --out DIR [--vocab FILE] [--top-k 250] [--cache-dir DIR]
 *  [--batch-size N] [--threads N] [--device cpu|cuda]`: each image's top-K vocabulary concepts (SEARLE's
 * 24-template ensemble, cosine scores) as `concepts` parts beside the `features` parts they come from.
 * Progress and notes go to stderr; the last line on stdout sums up the run.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { DEFAULT_TOP_K, runConcepts } from '../../stages/concepts/run.ts';
import { DEFAULT_VOCAB_BATCH_SIZE } from '../../stages/concepts/vocab-features.ts';
import { defaultCacheDir } from '../../util/cache-dir.ts';
import { createProgress } from '../progress.ts';
import { underLock } from '../run-manifest.ts';
import { DEFAULT_VOCAB_PATH, loadVocabulary } from '../../stages/concepts/vocab.ts';
import { type Device, DEVICE_FLAG, deviceOption, positiveIntOption } from '../options.ts';

interface Options {
  model: string; features: string; out: string; vocab?: string; topK: number; cacheDir?: string;
  batchSize: number; threads?: number; device: Device; logJson?: boolean;
}

export function register(program: Command): void {
  program
    .command('concepts')
    .description('zero-shot concepts per image: top-K vocabulary names by cosine with the 24-template text features')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder (config.json + model.safetensors)')
    .requiredOption('--features <dir>', "folder of the embed stage's features parts")
    .requiredOption('--out <dir>', 'folder for the concepts parts (resumes: parts already done are skipped)')
    .option('--vocab <file>', 'vocabulary: CSV/TSV (column name, DisplayName or concept, else the first) or one name per line (default: Open Images V7, 20,931 names)')
    .option('--top-k <n>', 'concepts kept per image', positiveIntOption, DEFAULT_TOP_K)
    .option('--cache-dir <dir>', 'cache root for vocabulary features and ONNX graphs (default: $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--batch-size <n>', 'vocabulary names per text-encoder call (each is 24 prompts)', positiveIntOption, DEFAULT_VOCAB_BATCH_SIZE)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', positiveIntOption)
    .option(...DEVICE_FLAG, deviceOption, 'cpu')
    .option('--log-json', 'progress as JSON lines on stderr')
    .action(async (opts: Options) => {
      const { topK, batchSize, threads } = opts;
      const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
      // a bad vocabulary file fails before the model is loaded
      const vocabulary = loadVocabulary(opts.vocab === undefined ? DEFAULT_VOCAB_PATH : resolve(opts.vocab));
      // Loaded here, not at the top: onnxruntime-node is heavy and other commands should not pay for it.
      const { loadClipModel } = await import('../../clip/weights.ts');
      const { createTextEncoder } = await import('../../clip/text-encoder.ts');
      const model = await loadClipModel(resolve(opts.model));
      const textEncoder = await createTextEncoder(model, { threads, device: opts.device, cacheDir });
      const { lock } = underLock(resolve(opts.out), 'concepts', () => undefined); // one writer of the output folder
      const result = await runConcepts({
        featuresDir: resolve(opts.features), outDir: resolve(opts.out), textEncoder, modelHash: model.hash,
        vocabulary, topK, cacheDir, batchSize,
        log: (line) => process.stderr.write(`${line}\n`), progress: createProgress('vocabulary features', { logJson: opts.logJson }),
      });
      lock.release();
      const vocabNote = result.cache === null ? 'vocabulary features not needed'
        : `vocabulary features ${result.cache.hit ? 'from cache' : 'computed'}`;
      process.stdout.write(`concepts: ${result.parts} parts (${result.written} written, ${result.skipped} already done), `
        + `${result.images} images, top ${result.topK} of ${result.vocabulary.size} names, ${vocabNote}\n`);
    });
}
