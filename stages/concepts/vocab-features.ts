/**
 * Vocabulary text features, SEARLE's template ensemble: each name is written into every template, each
 * prompt's text feature is L2-normalised, the normalised features are averaged and the mean is
 * normalised again. Names are encoded a batch at a time and summed per name as the batch returns, so at
 * most batchSize × templates features are alive at once, never the whole vocabulary × templates.
 *
 * The result is cached on disk as one Arrow file per (model, vocabulary, templates) key; a run that
 * finds the file reads it and never calls the encoder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import * as vocabFeaturesKind from '../../schemas/vocab-features.ts';
import { type VocabFeatures, type VocabFeaturesKey, vocabFeaturesKeyString } from '../../schemas/vocab-features.ts';
import { errorMessage } from '../../util/errors.ts';
import { fillTemplate, templatesHash } from '../../clip/text/templates.ts';
import { vocabularyHash } from './vocab.ts';

export const DEFAULT_VOCAB_BATCH_SIZE = 32;

export interface EncodeVocabularyOptions {
  names: readonly string[];
  templates: readonly string[];
  textEncoder: TextEncoder;
  /** names per encoder call (each name is `templates.length` rows); default 32 */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The template-ensemble features of `names`, uncached. */
export async function encodeVocabulary(opts: EncodeVocabularyOptions): Promise<VocabFeatures> {
  const { names, templates, textEncoder } = opts;
  const batchSize = opts.batchSize ?? DEFAULT_VOCAB_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const dim = textEncoder.dim;
  const T = templates.length;
  const matrix = new Float32Array(names.length * dim);
  const sum = new Float64Array(dim);
  opts.onProgress?.(0, names.length);
  for (let start = 0; start < names.length; start += batchSize) {
    const batch = names.slice(start, start + batchSize);
    const prompts: string[] = [];
    for (const name of batch) for (const t of templates) prompts.push(fillTemplate(t, name));
    const feats = await textEncoder.encodeTexts(prompts);
    if (feats.length !== prompts.length) throw new Error(`text encoder returned ${feats.length} features for ${prompts.length} prompts`);
    for (let b = 0; b < batch.length; b++) {
      sum.fill(0);
      for (let t = 0; t < T; t++) addNormalized(sum, feats[b * T + t], dim, prompts[b * T + t]);
      writeNormalized(matrix, (start + b) * dim, sum, batch[b]);
    }
    opts.onProgress?.(Math.min(start + batchSize, names.length), names.length);
  }
  return { names: [...names], dim, matrix };
}

function addNormalized(sum: Float64Array, feat: Float32Array, dim: number, prompt: string): void {
  if (feat.length !== dim) throw new Error(`text encoder returned a feature of length ${feat.length}, expected ${dim}`);
  let sq = 0;
  for (let d = 0; d < dim; d++) sq += feat[d] * feat[d];
  const inv = 1 / Math.sqrt(sq);
  if (!Number.isFinite(inv)) throw new Error(`text feature of ${JSON.stringify(prompt)} is zero or not finite`);
  for (let d = 0; d < dim; d++) sum[d] += feat[d] * inv;
}

function writeNormalized(out: Float32Array, at: number, v: Float64Array, name: string): void {
  let sq = 0;
  for (let d = 0; d < v.length; d++) sq += v[d] * v[d];
  const inv = 1 / Math.sqrt(sq);
  if (!Number.isFinite(inv)) throw new Error(`ensemble feature of ${JSON.stringify(name)} is zero`);
  for (let d = 0; d < v.length; d++) out[at + d] = v[d] * inv;
}

export interface ComputeVocabFeaturesOptions extends EncodeVocabularyOptions {
  /** the CLIP model's hash (ClipModel.hash) */
  modelHash: string;
  /** folder of the cache files (created); see cache-dir.ts for the default root */
  cacheDir: string;
  /** called when a cache file exists but cannot be used (it is then recomputed and replaced) */
  onWarning?: (message: string) => void;
}

export interface VocabFeaturesResult {
  features: VocabFeatures;
  key: VocabFeaturesKey;
  cachePath: string;
  /** true when read from the cache (no encoder call) */
  cacheHit: boolean;
}

export function vocabFeaturesCachePath(cacheDir: string, key: VocabFeaturesKey): string {
  return join(cacheDir, `vocab-features-${vocabFeaturesKeyString(key)}.arrow`);
}

/** Template-ensemble features of a vocabulary, read from the cache when there, else computed and cached. */
export async function computeVocabFeatures(opts: ComputeVocabFeaturesOptions): Promise<VocabFeaturesResult> {
  const key: VocabFeaturesKey = {
    modelHash: opts.modelHash, vocabHash: vocabularyHash(opts.names), templatesHash: templatesHash(opts.templates),
  };
  const cachePath = vocabFeaturesCachePath(opts.cacheDir, key);
  if (existsSync(cachePath)) {
    const cached = readCache(cachePath, key, opts.names, opts.textEncoder.dim);
    if (typeof cached !== 'string') return { features: cached, key, cachePath, cacheHit: true };
    opts.onWarning?.(`ignoring vocabulary feature cache ${cachePath}: ${cached}; recomputing`);
  }
  const features = await encodeVocabulary(opts);
  await mkdir(opts.cacheDir, { recursive: true });
  writeFileAtomic(cachePath, tableToIPC(vocabFeaturesKind.toTable(features, key), 'stream'));
  return { features, key, cachePath, cacheHit: false };
}

/** The cached features, or why they cannot be used. */
function readCache(path: string, key: VocabFeaturesKey, names: readonly string[], dim: number): VocabFeatures | string {
  try {
    const features = vocabFeaturesKind.fromTable(tableFromIPC(readFileSync(path)), key);
    if (!features) return 'made for another key or schema version';
    if (features.dim !== dim) return `its dimension ${features.dim} is not the encoder's ${dim}`;
    if (features.names.length !== names.length || features.names.some((n, i) => n !== names[i])) return 'its names differ';
    return features;
  } catch (err) {
    return `unreadable (${errorMessage(err)})`;
  }
}
