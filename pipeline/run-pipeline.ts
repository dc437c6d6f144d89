/**
 * `starword run`: ingest → embed → concepts → phrases → oti (→ phi when asked) on one shard of a
 * source, each stage resumable, the run manifest guarding against mixing results of different configs.
 */
import type { Device } from '../clip/onnx-session.ts';
import { describeDevice, openDevice } from '../clip/device.ts';
import { basename, join, resolve } from 'node:path';
import { createTextEncoder } from '../clip/text-encoder.ts';
import { loadTemplates, templatesHash } from '../clip/templates.ts';
import type { TextEncoder } from '../clip/encoder-types.ts';
import type { ClipTokenizer } from '../clip/tokenizer.ts';
import { isRealCheckpoint } from '../clip/model-origin.ts';
import { tokenizerForModel } from '../clip/tokenizer-fit.ts';
import { listImageSource } from '../stages/ingest/index.ts';
import { skippedFilesText } from './commands/inspect.ts';
import { templatePhrasesWarning } from './run-warnings.ts';
import type { OtiOptions } from '../stages/oti/options.ts';
import type { PhiOptions } from '../stages/phi/options.ts';
import { stageDir } from '../schemas/run-layout.ts';
import { conceptsFromParts } from '../stages/phrases/concept-source.ts';
import { UserError } from '../util/errors.ts';
import { loadModel, sessionOptions } from './model-loading.ts';
import { finishStage, openRunManifestLocked, startStage } from './run-manifest.ts';
import { CORPUS_DIR, resolveShard, shardRunDir } from './sharding.ts';
import { type ConceptsCliOptions, checkConceptsOptions, conceptsStage, conceptsVocabulary } from './stage-runners/concepts.ts';
import { type EmbedCliOptions, checkEmbedOptions, embedStage, ingestStage } from './stage-runners/embed.ts';
import { type OtiCliOptions, otiOptionsFrom, runOtiStage } from './stage-runners/oti.ts';
import { type PhrasesCliOptions, checkPhrasesOptions, phrasesConfig, phrasesReport, phrasesStage, resolvedBackend, swapNote } from './stage-runners/phrases.ts';
import { phiCliFrom, phiOptionsFrom, runPhiStage } from './stage-runners/phi.ts';

export const STAGES = ['ingest', 'embed', 'concepts', 'phrases', 'oti', 'phi'] as const;
export type PipelineStage = typeof STAGES[number];

export interface RunCliOptions extends EmbedCliOptions, ConceptsCliOptions, PhrasesCliOptions, OtiCliOptions {
  images: string; model: string; out: string;
  shardIndex?: string; shardCount?: string;
  until: string;
  phrasesTopK?: number;
  device?: Device;
  /** train phi after OTI (its options carry a phi- prefix here) */
  phi?: boolean;
  /** a phrases folder made once for all shards (`starword phrases --concepts-from`): the phrases stage is skipped */
  phrases?: string;
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
  const phiCli = { ...phiCliFrom(o as unknown as Record<string, unknown>, 'phi-'), threads: o.threads, cacheDir: o.cacheDir, logJson: o.logJson };
  const shard = resolveShard({ shardIndex: o.shardIndex, shardCount: o.shardCount });
  if (o.phi && shard.count > 1) {
    throw new UserError(`--phi with ${shard.count} shards would train phi on one shard's tokens: run the shards without --phi, `
      + `then \`starword merge ${o.out}\` and \`starword phi --run ${join(o.out, CORPUS_DIR)}\` once (see README, "Scaling out")`);
  }
  const phrasesFrom = o.phrases === undefined ? null : resolve(o.phrases);
  const runDir = shardRunDir(resolve(o.out), shard);
  // all stages' options, even those after --until: run.json records them, so a resume must repeat them
  checkEmbedOptions(o);
  checkConceptsOptions(o);
  checkPhrasesOptions(o);
  const oti = otiOptionsFrom(o);
  const phi = o.phi ? phiOptionsFrom(phiCli, 'phi-') : null;
  // phrases cover what OTI and (when trained) phi draw from: SEARLE's top 15 and top 150
  const phrasesTopK = o.phrasesTopK ?? Math.max(oti.topK, phi?.topK ?? 0);
  checkTopKs(o, { phrases: phrasesTopK, oti: oti.topK, phi: phi?.topK ?? 0 });
  const vocabulary = conceptsVocabulary(o);
  const model = await loadModel(resolve(o.model));
  // the text-side stages share one tokenizer (checked against the model here) and one text encoder
  const tokenizer = runs('concepts') ? await tokenizerForModel(model) : undefined;
  const listing = await listImageSource(o.images, { allowOutside: o.allowOutside });
  const { notes, warnings } = runNotes(o, model.dir, runs, oti, phi);
  // a device that cannot start stops here, before the lock and any work; its adapter goes to runtime (not
  // the fingerprint: a run started on the CPU resumes on a GPU and back)
  const device = await openDevice(o.device ?? 'cpu', o.cacheDir);
  if (device.device !== 'cpu') log(`device: ${describeDevice(device)}`);

  // the lock is taken only now, after every check: a refused command leaves no lock and no run.json
  const { lock } = openRunManifestLocked(runDir, {
    config: {
      embed: { partSize: o.partSize, preprocess: o.preprocess },
      concepts: { topK: o.topK },
      // phrases made elsewhere are an input like the images: their folder is a path, so not fingerprinted
      phrases: phrasesFrom ? { external: true } : { ...phrasesConfig(o), topK: phrasesTopK },
      oti,
      phi,
    },
    model: { dir: model.dir, hash: model.hash },
    // No absolute paths here: shards on machines with other mount points must share one fingerprint.
    // The images are identified by the plan's hash of their ids (merge checks it); paths go to runtime.
    sources: {
      vocabulary: { hash: vocabulary.hash, size: vocabulary.names.length },
      templates: templatesHash(loadTemplates()),
      initFrom: o.initFrom ? basename(resolve(o.initFrom)) : null,
    },
    seeds: { oti: oti.seed, phrases: o.phrasesSeed ?? 0, ...(phi ? { phi: phi.seed } : {}) },
    shard,
    runtime: {
      threads: o.threads ?? null, batchSize: o.batchSize, device: device.device, adapter: device.adapter, logJson: !!o.logJson,
      paths: { images: resolve(o.images), vocabulary: vocabulary.source, initFrom: o.initFrom ? resolve(o.initFrom) : null, phrases: phrasesFrom },
    },
    notes,
    warnings,
  }, !!o.force);
  for (const line of notes) log(line);
  for (const line of warnings) log(`warning: ${line}`);
  if (lock.swept.length > 0) log(`run: removed ${lock.swept.length} stale temporary files (${lock.swept.slice(0, 3).join(', ')}${lock.swept.length > 3 ? ', ...' : ''})`);

  const stages: RunResult['stages'] = {};
  const timed = async <T>(name: PipelineStage, fn: () => Promise<T>, counts: (r: T) => Record<string, number>): Promise<T | null> => {
    if (STAGES.indexOf(name) > last) return null;
    const t0 = performance.now();
    startStage(runDir, name);
    const r = await fn();
    const c = counts(r);
    finishStage(runDir, name, { seconds: (performance.now() - t0) / 1000, counts: c });
    stages[name] = c;
    return r;
  };

  const ingest = await timed('ingest', () => ingestStage(o.images, runDir, shard, o, listing), (r) => ({ images: r.plan.images, parts: r.plan.parts, sourceImages: r.plan.sourceImages }));
  if (ingest) log(`ingest: ${ingest.plan.images} images (shard ${shard.index + 1} of ${shard.count}) in ${ingest.plan.parts} parts`
    + `${listing.skippedFiles?.count ? `; ${skippedFilesText(listing.skippedFiles)}` : ''}`);
  const embed = await timed('embed', () => embedStage(runDir, model, o, 'embed', (l) => log(`embed: ${l}`)), (r) => ({ embedded: r.embedded, failed: r.failed, parts: r.parts, partsSkipped: r.partsSkipped }));
  if (embed) log(`embed: ${embed.embedded} embedded, ${embed.failed} failed, ${embed.partsSkipped} of ${embed.parts} parts already done`);

  // none is made for --until embed
  let shared: { text: TextEncoder; tokenizer: ClipTokenizer } | undefined;
  if (tokenizer) shared = { tokenizer, text: await createTextEncoder(model, { ...sessionOptions(o), tokenizer }) };
  const concepts = await timed('concepts', () => conceptsStage(runDir, model, shared!.text, vocabulary, o, log), (r) => ({ images: r.images, parts: r.parts, written: r.written, topK: r.topK }));
  if (concepts) log(`concepts: top ${concepts.topK} of ${concepts.vocabulary.size} names for ${concepts.images} images`);

  if (phrasesFrom && STAGES.indexOf('phrases') <= last) log(`phrases: using ${phrasesFrom} (made once for all shards)`);
  const phrases = phrasesFrom ? null : await timed('phrases', async () => {
    const needed = conceptsFromParts(stageDir(runDir, 'concepts'), phrasesTopK);
    log(`phrases: ${needed.length} concepts needed (union of each image's top ${phrasesTopK})`);
    return phrasesStage(needed, stageDir(runDir, 'phrases'), o, {
      countTokens: (t) => shared!.tokenizer.encode(t).length + 2, textEncoder: shared!.text, textEncoderId: model.hash, log,
    });
  }, (r) => ({ concepts: r.concepts, phrases: r.phrases, requests: r.requests, cached: r.cached, failed: r.failed, dropped: r.dropped }));
  if (phrases) for (const line of phrasesReport(phrases)) log(line);

  const otiCli = phrasesFrom ? { ...o, phrasesDir: phrasesFrom } : o;
  const otiSummary = await timed('oti', () => runOtiStage(runDir, model, otiCli, log, shared),
    (r) => ({ images: r.images, ok: r.ok, failed: r.failed, parts: r.parts, partsSkipped: r.partsSkipped }));
  if (otiSummary) {
    log(`oti: ${otiSummary.ok} ok, ${otiSummary.failed} failed, ${otiSummary.partsSkipped} of ${otiSummary.parts} parts already done, `
      + `median L_cos ${otiSummary.lcosMedian?.toFixed(4) ?? '-'}, L_gpt ${otiSummary.lgptMedian?.toFixed(4) ?? '-'}`);
  }
  const phiSummary = o.phi ? await timed('phi', () => runPhiStage(runDir, model, { ...phiCli, phrasesDir: phrasesFrom ?? undefined }, log, shared),
    (r) => ({ epochsRunNow: r.epochsRunNow, train: r.train, heldOut: r.val })) : null;
  if (phiSummary) log(`phi: ${phiSummary.epochsRunNow} epochs trained now; exported ${phiSummary.files.onnx} and ${phiSummary.files.safetensors}`);
  await shared?.text.release?.();
  lock.release();
  return { runDir, stages };
}

/** Top-k consistency: every stage draws from the concepts the concepts stage kept, and phrases cover what OTI and phi draw. */
function checkTopKs(o: RunCliOptions, k: { phrases: number; oti: number; phi: number }): void {
  if (o.phrasesTopK !== undefined && !(Number.isInteger(o.phrasesTopK) && o.phrasesTopK > 0)) {
    throw new UserError(`--phrases-top-k must be a positive integer, got ${o.phrasesTopK}`);
  }
  if (k.oti > o.topK) throw new UserError(`--oti-top-k ${k.oti} is more than --top-k ${o.topK}: OTI draws from the concepts the concepts stage keeps`);
  if (k.phi > o.topK) throw new UserError(`--phi-top-k ${k.phi} is more than --top-k ${o.topK}: phi draws from the concepts the concepts stage keeps`);
  if (k.phrases > o.topK) throw new UserError(`--phrases-top-k ${k.phrases} is more than --top-k ${o.topK}`);
  if (k.phrases < Math.max(k.oti, k.phi)) {
    const [flag, v] = k.oti >= k.phi ? ['--oti-top-k', k.oti] : ['--phi-top-k', k.phi];
    throw new UserError(`--phrases-top-k ${k.phrases} is less than ${flag} ${v}: concepts drawn for L_gpt would have no phrases`);
  }
}

/** What the run chose for the user (notes) and what they should know about its results (warnings). */
function runNotes(o: RunCliOptions, modelDir: string, runs: (stage: PipelineStage) => boolean, oti: OtiOptions, phi: PhiOptions | null): { notes: string[]; warnings: string[] } {
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
