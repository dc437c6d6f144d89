/**
 * `starword phrases --concepts FILE|DIR --out DIR [--backend completions|chat|templates|import] ...`:
 * phrases for every needed concept (LLM through a durable cache, or offline), cleaned, with the concept
 * swapped for " $ ", and with CLIP target features when --model is given. Progress and notices go to
 * stderr; the LAST stdout line is `requests: N, cached: M, failed: F`.
 * The API key is read from an environment variable only (never an option: argv is visible to `ps`).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import type { ClipModel } from '../../clip/weights/clip-model.ts';
import { loadConcepts } from '../../stages/phrases/concept-source.ts';
import { phrasesReport, phrasesStage, swapNote } from '../../stages/phrases/stage.ts';
import { scrub } from '../../util/llm/secrets.ts';
import { positiveIntOption } from '../options.ts';
import { conceptShardOf, parseConceptShard, unionConcepts } from '../concept-union.ts';
import { addRenamedFlags } from '../schema-flags.ts';
import { addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from '../shared-options.ts';
import { addStageOptions, runStageLocked, stageContext, stageOptionsFrom } from '../stage-command.ts';
import { UserError } from '../../util/errors.ts';

interface Options {
  concepts?: string; conceptsFrom?: string[]; conceptShard?: string; out: string; topK: number; model?: string;
  [flag: string]: unknown;
}

export function register(program: Command): void {
  const cmd = program
    .command('phrases')
    .description(phrasesStage.summary)
    .option('--concepts <path>', 'a file of concept names (one per line) or a folder of concepts parts')
    .option('--concepts-from <runs...>', 'sharded runs: the sorted union of the concepts of these run, shard or shard-*-of-* folders')
    .option('--concept-shard <i/n>', 'with --concepts-from: only the concepts whose name hashes to i of n (one job of n, each with its own --cache)')
    .requiredOption('--out <dir>', 'folder for the phrases parts, the summary and (by default) the cache')
    .option('--top-k <n>', 'with a concepts-parts folder: concepts taken per image', positiveIntOption, 15);
  addStageOptions(cmd, phrasesStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir'], help: { model: 'CLIP folder: store each phrase\'s text feature as its target' } });
  addRenamedFlags(cmd, { '--seed': '--phrases-seed' });
  cmd.action(async (opts: Options) => {
    const log = (line: string): void => { process.stderr.write(`${scrub(line)}\n`); };
    const options = stageOptionsFrom(phrasesStage, opts);
    const shared = sharedOptionsFrom(opts);
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

    const modelDir = shared.model === undefined ? undefined : resolve(shared.model);
    let model: ClipModel | undefined;
    const { ClipTokenizer } = await import('../../clip/text/tokenizer.ts');
    let tokenizer = ClipTokenizer.default();
    let textEncoder: TextEncoder | undefined;
    if (modelDir) {
      // Loaded only when asked for: onnxruntime-node is heavy and most phrase runs are LLM-bound.
      const { loadClipModel } = await import('../../clip/weights/clip-model.ts');
      const { createTextEncoder } = await import('../../clip/towers/text-encoder.ts');
      const { tokenizerForModel } = await import('../../clip/text/tokenizer-fit.ts');
      model = await loadClipModel(modelDir);
      tokenizer = await tokenizerForModel(model);
      textEncoder = await createTextEncoder(model, { ...sessionOptionsFrom({ ...shared, cacheDir: shared.cacheDir === undefined ? undefined : resolve(shared.cacheDir) }), tokenizer });
    }
    const note = swapNote(options);
    if (note) log(note);
    const r = await runStageLocked(phrasesStage, stageContext(resolve(opts.out), model, shared, {
      concepts, outDir: resolve(opts.out), countTokens: (text: string) => tokenizer.encode(text).length + 2, textEncoder,
    }, log), options);
    for (const line of phrasesReport(r)) process.stdout.write(`${line}\n`);
  });
}
