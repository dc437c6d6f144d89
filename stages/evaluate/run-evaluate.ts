/**
 * The evaluation core: annotations + a gallery + encoders in, metrics out. Everything it needs comes in
 * as interfaces (GallerySource, TextEncoder, TokenSource), so tests drive it with plain Float32Arrays
 * and the command layer does the loading.
 *
 * Steps: read the gallery's ids; resolve the annotation names to them; fetch the references' raw
 * features (image/sum methods, phi) and pseudo-tokens (searle); compose the queries; rank each group
 * (FashionIQ category) against its own gallery, reference excluded; score.
 *
 * Rules, stated once:
 * - the reference is excluded from its own ranking on CIRR and kept on CIRCO and FashionIQ, as SEARLE's
 *   validate.py does (`excludeReference` overrides the per-benchmark default); an excluded reference
 *   that is itself one of the query's ground truths stays, as exclusion would make it unreachable;
 * - a target missing from the (group's) gallery is a miss for every metric, and listed;
 * - a query whose reference has no token / feature cannot be formed: a miss, and listed;
 * - ties rank in gallery order (a stable sort).
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { UserError } from '../../util/errors.ts';
import { type ComposeMethod, composeQueries, encodeTextSets, methodNeeds } from '../retrieve/compose.ts';
import { FilteredGallery, type GallerySource, collectRows, galleryIds } from '../retrieve/gallery.ts';
import { IdResolver } from '../retrieve/id-resolver.ts';
import { rankGallery } from '../retrieve/rank.ts';
import { circoMetrics } from './circo.ts';
import { cirrMetrics } from './cirr.ts';
import { fashionIqMetrics } from './fashioniq.ts';
import type { Curve } from './metrics.ts';
import type { Annotations, MetricResult, QueryOutcome } from './types.ts';

/** Where searle's pseudo-tokens come from: OTI parts, or phi on the references' raw features. */
export interface TokenSource {
  needsFeatures: boolean;
  /** tokens of the given gallery ids; `features` holds their raw image features when needsFeatures */
  tokens(ids: string[], features: Map<string, Float32Array>): Promise<Map<string, Float32Array>>;
}

export interface EvaluateOptions {
  method: ComposeMethod;
  text?: TextEncoder;
  tokens?: TokenSource;
  /** default: per benchmark, as SEARLE's validate.py (referenceExcludedByDefault) */
  excludeReference?: boolean;
  /** ranking depth (default 50, the largest k of the benchmarks) */
  k?: number;
  blockRows?: number;
  /** texts per encoder call */
  textBatch?: number;
  log?: (line: string) => void;
  /** the method's name in the report (default: `method`), e.g. searle-oti, pic2word, captioning */
  label?: string;
  /**
   * Query texts written elsewhere (captioning, CIReVL): query id → texts whose normalised text features
   * are averaged into the query. Replaces `method`'s composition; a query without an entry is a miss.
   */
  queryTexts?: ReadonlyMap<string, readonly string[]>;
  /** query id → why it has no texts (one line each), copied into the report */
  queryFailures?: Readonly<Record<string, string>>;
  /** called with each query's outcome, its scored top-k and its reference's gallery id (for per-query rankings files) */
  onRanked?: (outcome: QueryOutcome, hits: { id: string; score: number }[], reference: string | undefined) => void;
}

export interface EvaluationReport {
  dataset: string;
  split: string;
  /** the method as the table names it (image, text, sum, searle-oti, searle, pic2word, captioning, cirevl) */
  method: string;
  queries: number;
  /** gallery size per group ('' = the single gallery) */
  gallery: Record<string, number>;
  metrics: Record<string, number>;
  curves: Curve[];
  excludeReference: boolean;
  /** query ids whose target is not in the gallery (counted as misses) */
  missingTargets: string[];
  /** query ids that could not be formed (no reference token / feature; counted as misses) */
  unanswerable: string[];
  /** query id → why it could not be formed, where a method knows (a failed caption or recomposition) */
  failures?: Record<string, string>;
  /** annotation image names of a split's gallery list that the index lacks */
  missingGalleryImages: number;
  sources: string[];
  seconds: { features: number; rank: number; total: number };
}

/** A test split (CIRR test1, CIRCO test) carries no ground truth: its metrics come from the benchmark's server. */
export function refuseTestSplit(ann: Annotations): void {
  if (ann.queries.length > 0 && ann.queries.every((q) => q.targets.length === 0)) {
    throw new UserError(`${ann.split} has no public ground truth; use \`starword submission\``);
  }
}

/** SEARLE's validate.py removes the reference from the ranking for CIRR only. */
export function referenceExcludedByDefault(dataset: string): boolean {
  return dataset === 'cirr';
}

export function metricsFor(dataset: string, outcomes: QueryOutcome[]): MetricResult {
  if (dataset === 'cirr') return cirrMetrics(outcomes);
  if (dataset === 'circo') return circoMetrics(outcomes);
  return fashionIqMetrics(outcomes);
}

export async function evaluate(ann: Annotations, gallery: GallerySource, opts: EvaluateOptions): Promise<EvaluationReport> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const k = opts.k ?? 50;
  const excludeReference = opts.excludeReference ?? referenceExcludedByDefault(ann.dataset);
  const needs = opts.queryTexts ? { token: false, image: false, text: true } : methodNeeds(opts.method);
  if (ann.queries.length === 0) throw new UserError(`${ann.sources[0] ?? ann.dataset}: no queries`);
  refuseTestSplit(ann);
  if (needs.token && !opts.tokens) throw new UserError(`method '${opts.method}' needs pseudo-tokens (${opts.method === 'pic2word' ? '--pic2word or --pic2word-tokens' : '--tokens or --phi'})`);

  const resolver = new IdResolver(await galleryIds(gallery, opts.blockRows));
  if (resolver.size === 0) throw new UserError('the gallery index is empty');

  // Per group: the allowed gallery ids (a split list), or undefined for the whole index.
  let missingGalleryImages = 0;
  const allowed = new Map<string, Set<string>>();
  for (const [group, names] of ann.galleries) {
    const set = new Set<string>();
    for (const n of names) { const id = resolver.resolve(n); if (id === undefined) missingGalleryImages++; else set.add(id); }
    allowed.set(group, set);
  }
  if (missingGalleryImages > 0) log(`${missingGalleryImages} images of the split's gallery lists are not in the index`);
  const inGallery = (group: string, id: string | undefined): string | undefined =>
    id !== undefined && (allowed.get(group)?.has(id) ?? true) ? id : undefined;

  const resolved = ann.queries.map((q) => {
    const reference = resolver.resolve(q.reference);
    const gts = q.targets.map((t) => inGallery(q.group, resolver.resolve(t)));
    const exclude = excludeReference && reference !== undefined && !gts.includes(reference) ? [reference] : [];
    const subset = (q.subset ?? []).map((m) => resolver.resolve(m)).filter((m): m is string => m !== undefined && m !== reference);
    return { q, reference, gts, exclude, subset };
  });

  // Reference features and tokens, fetched only for what the method needs.
  const tf = performance.now();
  const refIds = [...new Set(resolved.map((r) => r.reference).filter((r): r is string => r !== undefined))];
  const wantFeatures = needs.image || (needs.token && !!opts.tokens?.needsFeatures);
  const features = wantFeatures ? await collectRows(gallery, refIds, opts.blockRows) : new Map<string, Float32Array>();
  const tokens = needs.token ? await opts.tokens!.tokens(refIds, features) : new Map<string, Float32Array>();
  if (opts.queryTexts && !opts.text) throw new UserError(`method '${opts.label ?? opts.method}' needs a text encoder (--model)`);
  const composed = opts.queryTexts
    ? await encodeTextSets(opts.text as TextEncoder, resolved.map((r) => opts.queryTexts?.get(r.q.id) ?? null), opts.textBatch)
    : await composeQueries(opts.method, resolved.map((r) => ({
    captions: r.q.captions,
    token: r.reference === undefined ? null : tokens.get(r.reference) ?? null,
    image: r.reference === undefined ? null : features.get(r.reference) ?? null,
  })), { text: opts.text, batch: opts.textBatch });
  const featureSeconds = (performance.now() - tf) / 1000;

  // Rank each group against its gallery.
  const tr = performance.now();
  const outcomes: QueryOutcome[] = new Array(resolved.length);
  const gallerySizes: Record<string, number> = {};
  const groups = [...new Set(resolved.map((r) => r.q.group))];
  for (const group of groups) {
    const idx = resolved.map((_, i) => i).filter((i) => resolved[i].q.group === group);
    const set = allowed.get(group);
    const source = set ? new FilteredGallery(gallery, (id) => set.has(id)) : gallery;
    const dim = composed.find((c) => c !== null)?.length ?? 1;
    const result = await rankGallery(idx.map((i) => composed[i] ?? new Float32Array(dim)), source, {
      k,
      blockRows: opts.blockRows,
      exclude: idx.map((i) => resolved[i].exclude),
      watch: idx.map((i) => resolved[i].subset),
      skip: idx.map((i) => composed[i] === null),
    });
    gallerySizes[group] = result.gallerySize;
    log(`ranked ${idx.length} queries${group ? ` (${group})` : ''} against ${result.gallerySize} images`);
    idx.forEach((i, j) => {
      const r = resolved[i];
      const ranking = result.rankings[j];
      const subsetRanked = [...ranking.watched.values()]
        .sort((a, b) => b.score - a.score || a.position - b.position).map((h) => h.id);
      outcomes[i] = { query: r.q, ranked: ranking.hits.map((h) => h.id), target: r.gts[0], gts: r.gts, subsetRanked };
      opts.onRanked?.(outcomes[i], ranking.hits.map((h) => ({ id: h.id, score: h.score })), r.reference);
    });
  }
  const rankSeconds = (performance.now() - tr) / 1000;

  const { metrics, curves } = metricsFor(ann.dataset, outcomes);
  return {
    dataset: ann.dataset,
    split: ann.split,
    method: opts.label ?? opts.method,
    queries: outcomes.length,
    gallery: gallerySizes,
    metrics,
    curves,
    excludeReference,
    missingTargets: resolved.filter((r) => r.gts.length > 0 && r.gts[0] === undefined).map((r) => r.q.id),
    unanswerable: resolved.filter((_, i) => composed[i] === null).map((r) => r.q.id),
    ...(opts.queryFailures && Object.keys(opts.queryFailures).length ? { failures: { ...opts.queryFailures } } : {}),
    missingGalleryImages,
    sources: ann.sources,
    seconds: { features: featureSeconds, rank: rankSeconds, total: (performance.now() - t0) / 1000 },
  };
}
