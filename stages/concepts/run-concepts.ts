/**
 * The concepts stage: for every done `features` part, a `concepts` part of the same index holding each
 * image's top-K vocabulary concepts and scores. Parts already done are skipped when they check out (sound
 * on disk, made from the same features with the same model, vocabulary, templates and K; otherwise they
 * are redone), so a killed run resumes where it stopped.
 */
import { performance } from 'node:perf_hooks';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import * as conceptsKind from '../../schemas/concepts.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { type Provenance, checkPartModel, isPartCurrent, listDoneParts, partIdentity, removePartsWithout, writePart } from '../../schemas/part-io.ts';
import { hashJson } from '../../util/hash.ts';
import type { VocabFeatures } from '../../schemas/vocab-features.ts';
import { UserError } from '../../util/errors.ts';
import { defaultCacheDir, vocabFeaturesCacheDir } from './vocab-features-cache.ts';
import { FEATURES_KIND, type FeatureRows, readFeaturesPart } from './features-input.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { DEFAULT_TEMPLATES_PATH, loadTemplates, templatesHash } from '../../clip/text/templates.ts';
import { topKCosine } from './topk.ts';
import { DEFAULT_VOCAB_PATH, type Vocabulary, describeVocabulary, loadVocabulary } from './vocab.ts';
import { DEFAULT_VOCAB_BATCH_SIZE, computeVocabFeatures } from './vocab-features.ts';

/** SEARLE stores the top 250 (OTI reads 15 of them, phi training 150). */
export const DEFAULT_TOP_K = 250;

export interface RunConceptsOptions {
  featuresDir: string;
  outDir: string;
  textEncoder: TextEncoder;
  /** ClipModel.hash: part of the vocabulary-feature cache key and recorded in every part */
  modelHash: string;
  /** default: Open Images V7 (data/oidv7-class-descriptions.csv) */
  vocabPath?: string;
  /** an already loaded vocabulary (takes precedence over vocabPath) */
  vocabulary?: Vocabulary;
  /** default 250 */
  topK?: number;
  /** cache root (default: defaultCacheDir()); vocabulary features go to <root>/vocab-features/ */
  cacheDir?: string;
  /** vocabulary names per text-encoder call (default 32; × 24 templates rows) */
  batchSize?: number;
  /** default: data/palavra-templates.json */
  templatesPath?: string;
  /** where the vocabulary encoding reports progress (pipeline/progress.ts: a bar, JSON lines or nothing) */
  progress?: ProgressSink;
  /** one line per event (vocabulary, cache, parts); default: none */
  log?: (line: string) => void;
}

export interface RunConceptsResult {
  /** features parts found */
  parts: number;
  written: number;
  skipped: number;
  /** images in the parts written by this run */
  images: number;
  topK: number;
  vocabulary: { size: number; hash: string; source: string };
  /** null when every part was already done (the vocabulary was not needed) */
  cache: { path: string; hit: boolean } | null;
}

export function conceptsRunKey(modelHash: string, vocab: Vocabulary, templatesHashValue: string, topK: number) {
  return { modelHash, vocabHash: vocab.hash, templatesHash: templatesHashValue, topK };
}

export async function runConcepts(opts: RunConceptsOptions): Promise<RunConceptsResult> {
  const log = opts.log ?? (() => {});
  const topK = opts.topK ?? DEFAULT_TOP_K;
  if (!Number.isInteger(topK) || topK < 1) throw new UserError(`--top-k must be a positive integer, got ${topK}`);
  const batchSize = opts.batchSize ?? DEFAULT_VOCAB_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`--batch-size must be a positive integer, got ${batchSize}`);

  const vocab = opts.vocabulary ?? loadVocabulary(opts.vocabPath ?? DEFAULT_VOCAB_PATH);
  log(describeVocabulary(vocab));
  const templates = loadTemplates(opts.templatesPath ?? DEFAULT_TEMPLATES_PATH);
  const key = conceptsRunKey(opts.modelHash, vocab, templatesHash(templates), topK);

  const parts = listDoneParts(opts.featuresDir, FEATURES_KIND);
  if (parts.length === 0) throw new UserError(`no finished '${FEATURES_KIND}' parts in ${opts.featuresDir}`);
  removePartsWithout(opts.outDir, [conceptsKind.KIND], parts, (l) => log(`concepts: ${l}`));
  // a done part made from other features, or with another model, vocabulary, templates or K, is redone
  const provenance = (p: number): Provenance => ({
    modelHash: key.modelHash, configHash: hashJson({ vocab: key.vocabHash, templates: key.templatesHash, topK }),
    inputs: { features: partIdentity(opts.featuresDir, FEATURES_KIND, p) },
  });
  const pending = parts.filter((p) => !isPartCurrent(opts.outDir, conceptsKind.KIND, p, { provenance: provenance(p) }, (l) => log(`concepts: ${l}`)));
  const result: RunConceptsResult = {
    parts: parts.length, written: 0, skipped: parts.length - pending.length, images: 0, topK,
    vocabulary: { size: vocab.names.length, hash: vocab.hash, source: vocab.source }, cache: null,
  };
  if (pending.length === 0) return result;

  // features of another model (of the same width, say) are never ranked against this model's vocabulary
  for (const p of pending) checkPartModel(opts.featuresDir, FEATURES_KIND, p, opts.modelHash, 'rerun the embed stage with this model');
  // Read the first pending part before the (costly) vocabulary features, to catch a model mismatch early.
  const firstRows = readFeaturesPart(opts.featuresDir, pending[0]);
  checkDim(firstRows, opts.textEncoder.dim);
  const cacheDir = vocabFeaturesCacheDir(opts.cacheDir ?? defaultCacheDir());
  const bar = opts.progress;
  let started = false, reported = 0;
  let vf;
  try {
    vf = await computeVocabFeatures({
      names: vocab.names, templates, textEncoder: opts.textEncoder, batchSize, modelHash: opts.modelHash, cacheDir,
      onProgress: (done, total) => {
        if (!started) { bar?.start(total); started = true; }
        bar?.increment(done - reported);
        reported = done;
      },
      onWarning: log,
    });
  } finally {
    bar?.stop();
  }
  result.cache = { path: vf.cachePath, hit: vf.cacheHit };
  log(`vocabulary features: ${vf.cacheHit ? 'read from' : 'computed and cached in'} ${vf.cachePath}`);

  const metadata = {
    'starword.model_hash': key.modelHash, 'starword.vocab_hash': key.vocabHash,
    'starword.templates_hash': key.templatesHash, 'starword.top_k': String(topK),
  };
  for (const p of pending) {
    const t0 = performance.now();
    const rows = p === pending[0] ? firstRows : readFeaturesPart(opts.featuresDir, p);
    const t1 = performance.now();
    const table = conceptsKind.toTable(conceptsForImages(rows, vf.features, topK), metadata);
    const t2 = performance.now();
    await writePart(opts.outDir, conceptsKind.KIND, p, table, SCHEMA_VERSION, {
      ...key, vocabSize: vocab.names.length,
      readMs: round(t1 - t0), computeMs: round(t2 - t1), writeMs: round(performance.now() - t2),
    }, provenance(p));
    result.written++;
    result.images += rows.ids.length;
    log(`concepts part ${p}: ${rows.ids.length} images in ${round(performance.now() - t0)} ms`);
  }
  return result;
}

/** Top-K concept names and scores for a set of images (the stage's core, free of files). */
export function conceptsForImages(rows: FeatureRows, vocab: VocabFeatures, topK: number): conceptsKind.ConceptsRow[] {
  checkDim(rows, vocab.dim);
  const tops = topKCosine(rows.features, vocab.matrix, vocab.dim, topK, rows.ids);
  return tops.map((t, i) => ({
    imageId: rows.ids[i], concepts: Array.from(t.indices, (v) => vocab.names[v]), scores: t.scores,
  }));
}

function checkDim(rows: FeatureRows, dim: number): void {
  if (rows.features.length > 0 && rows.features[0].length !== dim) {
    throw new UserError(`image features have dimension ${rows.features[0].length} but the model's text features ${dim}: were they made with another model?`);
  }
}

function round(ms: number): number { return Math.round(ms * 10) / 10; }
