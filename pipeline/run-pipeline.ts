/**
 * `starword run`: ingest → embed → concepts → phrases → oti (→ phi when asked) on one shard of a
 * source, each stage resumable, the run manifest guarding against mixing results of different configs.
 * The stages are the declarations in PIPELINE; this file checks all their options first, records them in
 * run.json, then runs each in turn with what it reads (the listing, the vocabulary, the needed concepts).
 */
import { describeDevice, deviceName, openDevice } from '../clip/runtime/device.ts';
import { basename, join, resolve } from 'node:path';
import type { TextEncoder } from '../clip/towers/encoder-types.ts';
import { isRealCheckpoint } from '../clip/weights/model-origin.ts';
import { createTextEncoder } from '../clip/towers/text-encoder.ts';
import { loadTemplates, templatesHash } from '../clip/text/templates.ts';
import type { ClipTokenizer } from '../clip/text/tokenizer.ts';
import { tokenizerForModel } from '../clip/text/tokenizer-fit.ts';
import { type StageName, stageDir } from '../schemas/run-layout.ts';
import { conceptsStage } from '../stages/concepts/stage.ts';
import { DEFAULT_VOCAB_PATH, loadVocabulary } from '../stages/concepts/vocab.ts';
import { embedStage } from '../stages/embed/stage.ts';
import { listImageSource } from '../stages/ingest/index.ts';
import { ingestStage } from '../stages/ingest/stage.ts';
import type { OtiOptions } from '../stages/oti/optimize.ts';
import { otiStage } from '../stages/oti/stage.ts';
import type { PhiOptions } from '../stages/phi/train.ts';
import { phiStage } from '../stages/phi/stage.ts';
import { conceptsFromParts } from '../stages/phrases/concept-source.ts';
import { type PhrasesStageOptions, phrasesConfig, phrasesReport, phrasesStage, resolvedBackend, swapNote } from '../stages/phrases/stage.ts';
import { UserError } from '../util/errors.ts';
import { skippedFilesText, skippedLinksText } from './inspect-run.ts';
import { loadClipModel } from '../clip/weights/clip-model.ts';
import { addRunWarning, finishStage, openRunManifestLocked, startStage } from './run-manifest.ts';
import { type PhrasesResult, emptyOutputLine } from '../stages/phrases/run-phrases.ts';
import { templatePhrasesWarning } from './run-warnings.ts';
import { sessionOptionsFrom, sharedOptionsFrom } from './shared-options.ts';
import { CORPUS_DIR, resolveShard, shardRunDir } from './sharding.ts';
import { type AnyStage, runStage, stageContext, stageOptionsFrom } from './stage-command.ts';

/** The stages of `run`, in order: their options are run's flags (phi's under --phi-). */
export const PIPELINE: readonly AnyStage[] = [ingestStage, embedStage, conceptsStage, phrasesStage, otiStage, phiStage] as AnyStage[];
export const STAGES = ['ingest', 'embed', 'concepts', 'phrases', 'oti', 'phi'] as const satisfies readonly StageName[];
export type PipelineStage = typeof STAGES[number];

/** commander's options of `run`: run's own, the shared ones, and every stage's (read through the declarations) */
export interface RunCliOptions {
  images: string; out: string;
  shardIndex?: string; shardCount?: string;
  until?: string;
  phrasesTopK?: number;
  /** train phi after OTI (its options carry a phi- prefix here) */
  phi?: boolean;
  /** a phrases folder made once for all shards (`starword phrases --concepts-from`): the phrases stage is skipped */
  phrases?: string;
  [flag: string]: unknown;
}

export interface RunResult { runDir: string; stages: Record<string, Record<string, unknown>> }

export async function runPipeline(o: RunCliOptions, log: (line: string) => void): Promise<RunResult> {
  // Every check that can fail on bad input runs here, before the run folder is touched: a bad option
  // found after hours of OTI, or a run.json left by a source that does not exist, costs the user.
  const until = (o.until ?? (o.phi ? 'phi' : 'oti')) as PipelineStage;
  if (!STAGES.includes(until)) throw new UserError(`--until must be one of ${STAGES.join(', ')}, got '${o.until}'`);
  if (until === 'phi' && !o.phi) throw new UserError('--until phi needs --phi');
  const last = STAGES.indexOf(until);
  const runs = (stage: PipelineStage): boolean => STAGES.indexOf(stage) <= last;
  const shared = sharedOptionsFrom(o);
  const shard = resolveShard({ shardIndex: o.shardIndex, shardCount: o.shardCount });
  if (o.phi && shard.count > 1) {
    throw new UserError(`--phi with ${shard.count} shards would train phi on one shard's tokens: run the shards without --phi, `
      + `then \`starword merge ${o.out}\` and \`starword phi --run ${join(o.out, CORPUS_DIR)}\` once (see docs/scaling-out.md)`);
  }
  const phrasesFrom = o.phrases === undefined ? null : resolve(o.phrases);
  const runDir = shardRunDir(resolve(o.out), shard);
  // all stages' options, even those after --until: run.json records them, so a resume must repeat them
  const opts: Record<PipelineStage, Record<string, unknown> | null> = { ingest: null, embed: null, concepts: null, phrases: null, oti: null, phi: null };
  for (const def of PIPELINE) if (def.name !== 'phi' || o.phi) opts[def.name as PipelineStage] = stageOptionsFrom(def, o, true);
  const ingest = opts.ingest as { partSize: number; allowOutside: boolean };
  const embed = opts.embed as { batchSize: number; preprocess: string };
  const concepts = opts.concepts as { topK: number; vocab?: string };
  const phrasesOpts = opts.phrases as PhrasesStageOptions;
  const oti = otiStage.config(opts.oti as never) as OtiOptions;
  const phi = opts.phi ? phiStage.config(opts.phi as never) as PhiOptions : null;
  // phrases cover what OTI and (when trained) phi draw from: SEARLE's top 15 and top 150
  const phrasesTopK = o.phrasesTopK ?? Math.max(oti.topK, phi?.topK ?? 0);
  checkTopKs(o.phrasesTopK, concepts.topK, { phrases: phrasesTopK, oti: oti.topK, phi: phi?.topK ?? 0 });
  const vocabulary = loadVocabulary(concepts.vocab === undefined ? DEFAULT_VOCAB_PATH : resolve(concepts.vocab));
  const model = await loadClipModel(resolve(shared.model!));
  // the text-side stages share one tokenizer (checked against the model here) and one text encoder
  const tokenizer = runs('concepts') ? await tokenizerForModel(model) : undefined;
  const listing = await listImageSource(o.images, { allowOutside: ingest.allowOutside });
  const { notes, warnings } = runNotes(phrasesOpts, model.dir, runs, oti, phi);
  const initFrom = (opts.oti as { initFrom?: string }).initFrom;
  // a device that cannot start stops here, before the lock and any work; its adapter goes to runtime (not
  // the fingerprint: a run started on the CPU resumes on a GPU and back)
  const device = await openDevice(shared.device ?? 'cpu', shared.cacheDir);
  if (device.device !== 'cpu') log(`device: ${describeDevice(device)}`);

  // the lock is taken only now, after every check: a refused command leaves no lock and no run.json
  const { lock } = openRunManifestLocked(runDir, {
    config: {
      embed: { partSize: ingest.partSize, preprocess: embed.preprocess },
      concepts: conceptsStage.config(opts.concepts as never),
      // phrases made elsewhere are an input like the images: their folder is a path, so not fingerprinted
      phrases: phrasesFrom ? { external: true } : { ...phrasesConfig(phrasesOpts), topK: phrasesTopK },
      oti,
      phi,
    },
    model: { dir: model.dir, hash: model.hash },
    // No absolute paths here: shards on machines with other mount points must share one fingerprint.
    // The images are identified by the plan's hash of their ids (merge checks it); paths go to runtime.
    sources: {
      vocabulary: { hash: vocabulary.hash, size: vocabulary.names.length },
      templates: templatesHash(loadTemplates()),
      initFrom: initFrom ? basename(resolve(initFrom)) : null,
    },
    seeds: { oti: oti.seed, phrases: phrasesOpts.phrasesSeed ?? 0, ...(phi ? { phi: phi.seed } : {}) },
    shard,
    runtime: {
      threads: shared.threads ?? null, batchSize: embed.batchSize, device: device.device, adapter: device.adapter, logJson: shared.logJson,
      paths: { images: resolve(o.images), vocabulary: vocabulary.source, initFrom: initFrom ? resolve(initFrom) : null, phrases: phrasesFrom },
    },
    notes,
    warnings,
  }, shared.force);
  for (const line of notes) log(line);
  for (const line of warnings) log(`warning: ${line}`);
  if (lock.swept.length > 0) log(`run: removed ${lock.swept.length} stale temporary files (${lock.swept.slice(0, 3).join(', ')}${lock.swept.length > 3 ? ', ...' : ''})`);

  // none is made for --until embed: opened before the first text stage
  let text: { text: TextEncoder; tokenizer: ClipTokenizer } | undefined;
  const plainLog = log;
  // OTI and phi with λ_gpt > 0 and no phrases: refused naming --allow-empty-phrases, or under it a warning in run.json
  const noPhrases = { allowNoPhrases: phrasesOpts.allowEmptyPhrases, recordWarning: (line: string) => { addRunWarning(runDir, line); } };
  /** what each stage reads besides its options, and how `run` logs each stage */
  const inputs: Record<PipelineStage, () => { inputs: unknown; log?: (line: string) => void }> = {
    ingest: () => ({ inputs: { source: o.images, shard, listing, force: shared.force } }),
    embed: () => ({ inputs: {}, log: (l) => log(`embed: ${l}`) }),
    concepts: () => ({ inputs: { vocabulary } }),
    phrases: () => {
      const needed = conceptsFromParts(stageDir(runDir, 'concepts'), phrasesTopK);
      log(`phrases: ${needed.length} concepts needed (union of each image's top ${phrasesTopK})`);
      return { inputs: { concepts: needed, outDir: stageDir(runDir, 'phrases'), countTokens: (t: string) => text!.tokenizer.encode(t).length + 2, textEncoder: text!.text } };
    },
    oti: () => ({ inputs: { phrasesDir: phrasesFrom ?? undefined, ...noPhrases } }),
    phi: () => ({ inputs: { phrasesDir: phrasesFrom ?? undefined, ...noPhrases } }),
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const report: Record<PipelineStage, (r: any) => string[]> = {
    ingest: (r) => [`ingest: ${r.plan.images} images (shard ${shard.index + 1} of ${shard.count}) in ${r.plan.parts} parts`
      + `${listing.skippedFiles?.count ? `; ${skippedFilesText(listing.skippedFiles)}` : ''}${listing.skippedLinks ? `; ${skippedLinksText(listing.skippedLinks)}` : ''}`],
    embed: (r) => [`embed: ${r.embedded} embedded, ${r.failed} failed, ${r.partsSkipped} of ${r.parts} parts already done`],
    concepts: (r) => [`concepts: top ${r.topK} of ${r.vocabulary.size} names for ${r.images} images`],
    phrases: phrasesReport,
    oti: (r) => [`oti: ${r.ok} ok, ${r.failed} failed, ${r.partsSkipped} of ${r.parts} parts already done, `
      + `median L_cos ${r.lcosMedian?.toFixed(4) ?? '-'}, L_gpt ${r.lgptMedian?.toFixed(4) ?? '-'}`],
    phi: (r) => [`phi: ${r.epochsRunNow} epochs trained now; exported ${r.files.onnx} and ${r.files.safetensors}`],
  };

  const stages: RunResult['stages'] = {};
  try {
    for (const def of PIPELINE) {
      const name = def.name as PipelineStage;
      if (!runs(name)) break;
      if (name === 'phrases' && phrasesFrom) { log(`phrases: using ${phrasesFrom} (made once for all shards)`); continue; }
      if (name === 'phi' && !opts.phi) continue;
      if (name !== 'ingest' && name !== 'embed' && tokenizer && !text) text = { tokenizer, text: await createTextEncoder(model, { ...sessionOptionsFrom(shared), tokenizer }) };
      const t0 = performance.now();
      startStage(runDir, name, deviceName(device));
      const given = inputs[name]();
      const r = await runStage(def, stageContext(runDir, model, shared, given.inputs, given.log ?? plainLog, { shared: text }), opts[name], true);
      const counts = def.counts(r);
      finishStage(runDir, name, { seconds: (performance.now() - t0) / 1000, counts, resumedCounts: def.resumedCounts });
      stages[name] = counts;
      for (const line of report[name](r)) log(line);
      // only with --allow-empty-phrases does an empty phrases stage get here: the run says so where it is read
      if (name === 'phrases' && (r as PhrasesResult).phrases === 0) {
        addRunWarning(runDir, `${emptyOutputLine(r as PhrasesResult)}; the run went on without L_gpt (--allow-empty-phrases)`);
      }
    }
  } finally {
    await text?.text.release?.();
    lock.release();
  }
  return { runDir, stages };
}

/** Top-k consistency: every stage draws from the concepts the concepts stage kept, and phrases cover what OTI and phi draw. */
function checkTopKs(given: number | undefined, topK: number, k: { phrases: number; oti: number; phi: number }): void {
  if (given !== undefined && !(Number.isInteger(given) && given > 0)) {
    throw new UserError(`--phrases-top-k must be a positive integer, got ${given}`);
  }
  if (k.oti > topK) throw new UserError(`--oti-top-k ${k.oti} is more than --top-k ${topK}: OTI draws from the concepts the concepts stage keeps`);
  if (k.phi > topK) throw new UserError(`--phi-top-k ${k.phi} is more than --top-k ${topK}: phi draws from the concepts the concepts stage keeps`);
  if (k.phrases > topK) throw new UserError(`--phrases-top-k ${k.phrases} is more than --top-k ${topK}`);
  if (k.phrases < Math.max(k.oti, k.phi)) {
    const [flag, v] = k.oti >= k.phi ? ['--oti-top-k', k.oti] : ['--phi-top-k', k.phi];
    throw new UserError(`--phrases-top-k ${k.phrases} is less than ${flag} ${v}: concepts drawn for L_gpt would have no phrases`);
  }
}

/** What the run chose for the user (notes) and what they should know about its results (warnings). */
function runNotes(o: PhrasesStageOptions, modelDir: string, runs: (stage: PipelineStage) => boolean, oti: OtiOptions, phi: PhiOptions | null): { notes: string[]; warnings: string[] } {
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!runs('phrases')) return { notes, warnings };
  const note = swapNote(o);
  if (note) notes.push(note);
  const feedsLgpt = (runs('oti') && oti.lambdaGpt > 0) || (phi !== null && phi.lambdaGpt > 0);
  if (resolvedBackend(o) === 'templates' && feedsLgpt && isRealCheckpoint(modelDir)) {
    warnings.push(templatePhrasesWarning(o.backend === undefined ? 'no LLM model is configured' : '--backend templates'));
  }
  return { notes, warnings };
}
