/**
 * `starword concepts --model DIR --features PARTS --out DIR [options]`: each image's top-K vocabulary
 * concepts (stages/concepts/stage.ts declares the stage and its options) as `concepts` parts beside the
 * `features` parts they come from. Progress and notes go to stderr; the last line on stdout sums up the run.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { conceptsStage } from '../../stages/concepts/stage.ts';
import { DEFAULT_VOCAB_PATH, loadVocabulary } from '../../stages/concepts/vocab.ts';
import { defaultCacheDir } from '../../util/cache-dir.ts';
import { addRenamedFlags } from '../schema-flags.ts';
import { addSharedOptions, sharedOptionsFrom } from '../shared-options.ts';
import { addStageOptions, runStageLocked, stageContext, stageOptionsFrom } from '../stage-command.ts';

export function register(program: Command): void {
  const cmd = program
    .command('concepts')
    .description(conceptsStage.summary)
    .requiredOption('--features <dir>', "folder of the embed stage's features parts")
    .requiredOption('--out <dir>', 'folder for the concepts parts (resumes: parts already done are skipped)');
  addStageOptions(cmd, conceptsStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson'], requireModel: true,
    help: { cacheDir: 'cache root for vocabulary features and ONNX graphs (default: $STARWORD_CACHE_DIR or ~/.cache/starword)' } });
  addRenamedFlags(cmd, { '--batch-size': '--vocab-batch' });
  cmd.action(async (raw: Record<string, unknown>) => {
    const options = stageOptionsFrom(conceptsStage, raw);
    const shared = sharedOptionsFrom(raw);
    shared.cacheDir = resolve(shared.cacheDir ?? defaultCacheDir());
    // a bad vocabulary file fails before the model is loaded
    const vocabulary = loadVocabulary(options.vocab === undefined ? DEFAULT_VOCAB_PATH : resolve(options.vocab));
    // Loaded here, not at the top: onnxruntime-node is heavy and other commands should not pay for it.
    const { loadClipModel } = await import('../../clip/weights/clip-model.ts');
    const { createTextEncoder } = await import('../../clip/towers/text-encoder.ts');
    const { tokenizerForModel } = await import('../../clip/text/tokenizer-fit.ts');
    const model = await loadClipModel(resolve(shared.model!));
    const tokenizer = await tokenizerForModel(model); // a model the tokenizer does not fit is refused here
    const log = (line: string): void => { process.stderr.write(`${line}\n`); };
    const ctx = stageContext(resolve(raw.out as string), model, shared, {
      vocabulary, featuresDir: resolve(raw.features as string), outDir: resolve(raw.out as string),
    }, log);
    const text = await createTextEncoder(model, { ...ctx.session, tokenizer });
    const result = await runStageLocked(conceptsStage, { ...ctx, shared: { text, tokenizer } }, options);
    const vocabNote = result.cache === null ? 'vocabulary features not needed'
      : `vocabulary features ${result.cache.hit ? 'from cache' : 'computed'}`;
    process.stdout.write(`concepts: ${result.parts} parts (${result.written} written, ${result.skipped} already done), `
      + `${result.images} images, top ${result.topK} of ${result.vocabulary.size} names, ${vocabNote}\n`);
  });
}
