/**
 * `starword phrases --concepts FILE|DIR --out DIR [--backend completions|chat|templates|import] ...`:
 * phrases for every needed concept (LLM through a durable cache, or offline), cleaned, with the concept
 * swapped for " $ ", and with CLIP target features when --model is given. Progress and notices go to
 * stderr; the LAST stdout line is `requests: N, cached: M, failed: F`.
 * The API key is read from an environment variable only (never an option: argv is visible to `ps`).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import { loadConcepts } from '../../stages/phrases/concept-source.ts';
import { scrub } from '../../util/llm/secrets.ts';
import { underLock } from '../run-manifest.ts';
import { type Device, DEVICE_FLAG, deviceOption, positiveIntOption } from '../options.ts';
import { conceptShardOf, parseConceptShard, unionConcepts } from '../concept-union.ts';
import { type PhrasesCliOptions, addPhrasesOptions, checkPhrasesOptions, phrasesReport, phrasesStage, swapNote } from '../stage-runners/phrases.ts';
import { UserError } from '../../util/errors.ts';

interface Options extends PhrasesCliOptions {
  seed?: number; concepts?: string; conceptsFrom?: string[]; conceptShard?: string; out: string; topK: number; model?: string; threads?: number; device: Device; cacheDir?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('phrases')
    .description("phrases per concept (SEARLE's LLM captions, cached; or offline templates / an imported file), concept swapped for ' $ '")
    .option('--concepts <path>', 'a file of concept names (one per line) or a folder of concepts parts')
    .option('--concepts-from <runs...>', 'sharded runs: the sorted union of the concepts of these run, shard or shard-*-of-* folders')
    .option('--concept-shard <i/n>', 'with --concepts-from: only the concepts whose name hashes to i of n (one job of n, each with its own --cache)')
    .requiredOption('--out <dir>', 'folder for the phrases parts, the summary and (by default) the cache')
    .option('--top-k <n>', 'with a concepts-parts folder: concepts taken per image', positiveIntOption, 15)
    .option('--model <dir>', 'CLIP folder: store each phrase\'s text feature as its target')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', positiveIntOption)
    .option(...DEVICE_FLAG, deviceOption, 'cpu')
    .option('--cache-dir <dir>', 'cache root for ONNX graphs (default: $STARWORD_CACHE_DIR or ~/.cache/starword)');
  addPhrasesOptions(cmd, 'seed').action(async (opts: Options) => {
    const log = (line: string): void => { process.stderr.write(`${scrub(line)}\n`); };
    opts.phrasesSeed = opts.seed;
    checkPhrasesOptions(opts, 'seed');
    const device = opts.device;
    if (!!opts.concepts === !!opts.conceptsFrom) throw new UserError('give exactly one of --concepts and --concepts-from');
    if (opts.conceptShard !== undefined && !opts.conceptsFrom) throw new UserError('--concept-shard needs --concepts-from');
    const conceptShard = opts.conceptShard === undefined ? null : parseConceptShard(opts.conceptShard);
    let concepts: string[];
    if (opts.conceptsFrom) {
      const union = unionConcepts(opts.conceptsFrom.map((p) => resolve(p)), opts.topK);
      concepts = conceptShard ? conceptShardOf(union.concepts, conceptShard) : union.concepts;
      log(`phrases: ${union.concepts.length} concepts in the union of ${union.runs} run folders' top ${opts.topK}`
        + `${conceptShard ? `; ${concepts.length} of them hash to concept shard ${conceptShard.index}/${conceptShard.count}` : ''}`);
      if (concepts.length === 0) throw new UserError(`--concept-shard ${opts.conceptShard}: no concept hashes to this shard`);
    } else {
      concepts = loadConcepts(resolve(opts.concepts!), opts.topK);
      log(`phrases: ${concepts.length} concepts from ${opts.concepts}`);
    }

    const modelDir = opts.model === undefined ? undefined : resolve(opts.model);
    const { ClipTokenizer } = await import('../../clip/tokenizer.ts');
    let tokenizer = ClipTokenizer.default();
    let textEncoder: TextEncoder | undefined;
    let textEncoderId: string | undefined;
    if (modelDir) {
      // Loaded only when asked for: onnxruntime-node is heavy and most phrase runs are LLM-bound.
      const { loadClipModel } = await import('../../clip/weights.ts');
      const { createTextEncoder } = await import('../../clip/text-encoder.ts');
      const { tokenizerForModel } = await import('../../clip/tokenizer-fit.ts');
      const model = await loadClipModel(modelDir);
      tokenizer = await tokenizerForModel(model);
      textEncoder = await createTextEncoder(model, {
        threads: opts.threads, device, cacheDir: opts.cacheDir === undefined ? undefined : resolve(opts.cacheDir), tokenizer,
      });
      textEncoderId = model.hash;
    }
    const note = swapNote(opts);
    if (note) log(note);
    const { lock } = underLock(resolve(opts.out), 'phrases', () => undefined); // one writer of the output folder
    const r = await phrasesStage(concepts, resolve(opts.out), opts, {
      countTokens: (text) => tokenizer.encode(text).length + 2, textEncoder, textEncoderId, log,
    });
    lock.release();
    for (const line of phrasesReport(r)) process.stdout.write(`${line}\n`);
  });
}
