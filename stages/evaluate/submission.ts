/**
 * Prediction files for the benchmarks' test servers, as SEARLE's generate_test_submission.py writes
 * them and the servers document them:
 * - CIRR (cirr.cecs.anu.edu.au, CIRR's Test-split_server.md): two JSON objects keyed by pairid (as a
 *   decimal string), each with "version": "rc2" and "metric": "recall" (top 50 of the gallery, the
 *   reference removed) or "recall_subset" (top 3 of the query's img_set members, the reference removed);
 * - CIRCO (circo.micc.unifi.it, CIRCO's README): one JSON object keyed by query id, the top 50 COCO
 *   image ids of the whole gallery, the reference kept (as SEARLE's code ranks it).
 * Image names are written as the annotations name them (CIRR names, COCO ids as decimal strings).
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { UserError } from '../../util/errors.ts';
import { type Method, composeQueries, methodNeeds } from '../retrieve/compose.ts';
import { FilteredGallery, type GallerySource, collectRows, galleryIds } from '../retrieve/gallery.ts';
import { IdResolver, idKey } from '../retrieve/id-resolver.ts';
import { rankGallery } from '../retrieve/rank.ts';
import type { TokenSource } from './run-evaluate.ts';
import type { Annotations } from './types.ts';

export const SUBMISSION_TOP_K = 50;
export const CIRR_SUBSET_TOP_K = 3;

export interface SubmissionOptions {
  method: Method;
  text?: TextEncoder;
  tokens?: TokenSource;
  blockRows?: number;
  log?: (line: string) => void;
}

/** query id → ranked image names; CIRR also the subset ranking. */
export interface SubmissionRankings {
  dataset: 'cirr' | 'circo';
  recall: Map<string, string[]>;
  subset: Map<string, string[]> | null;
  /** queries whose reference has no token or features: written with an empty list, and listed */
  unanswerable: string[];
  gallerySize: number;
}

export async function rankForSubmission(ann: Annotations, gallery: GallerySource, o: SubmissionOptions): Promise<SubmissionRankings> {
  if (ann.dataset !== 'cirr' && ann.dataset !== 'circo') throw new UserError(`--dataset ${ann.dataset}: test submissions exist for cirr and circo`);
  if (ann.queries.length === 0) throw new UserError(`${ann.sources[0] ?? ann.dataset}: no queries`);
  const needs = methodNeeds(o.method);
  if (needs.token && !o.tokens) throw new UserError(`method 'searle' needs pseudo-tokens (--tokens or --phi)`);
  const cirr = ann.dataset === 'cirr';
  const resolver = new IdResolver(await galleryIds(gallery, o.blockRows));
  if (resolver.size === 0) throw new UserError('the gallery index is empty');

  // the split's image list (CIRR) bounds the gallery; names go back out as the annotations spell them
  const nameOf = new Map<string, string>();
  let allowed: Set<string> | undefined;
  const listed = ann.galleries.get('');
  if (listed) {
    allowed = new Set();
    let missing = 0;
    for (const n of listed) {
      const id = resolver.resolve(n);
      if (id === undefined) { missing++; continue; }
      allowed.add(id); nameOf.set(id, n);
    }
    if (missing) o.log?.(`${missing} images of the split's gallery list are not in the index`);
  }
  const name = (id: string) => nameOf.get(id) ?? idKey(id);

  const refs = ann.queries.map((q) => resolver.resolve(q.reference));
  const refIds = [...new Set(refs.filter((r): r is string => r !== undefined))];
  const wantFeatures = needs.image || (needs.token && !!o.tokens?.needsFeatures);
  const features = wantFeatures ? await collectRows(gallery, refIds, o.blockRows) : new Map<string, Float32Array>();
  const tokens = needs.token ? await o.tokens!.tokens(refIds, features) : new Map<string, Float32Array>();
  const composed = await composeQueries(o.method, ann.queries.map((q, i) => ({
    captions: q.captions,
    token: refs[i] === undefined ? null : tokens.get(refs[i]!) ?? null,
    image: refs[i] === undefined ? null : features.get(refs[i]!) ?? null,
  })), { text: o.text });
  const dim = composed.find((c) => c !== null)?.length ?? 1;
  const source = allowed ? new FilteredGallery(gallery, (id) => allowed!.has(id)) : gallery;
  const result = await rankGallery(composed.map((c) => c ?? new Float32Array(dim)), source, {
    k: SUBMISSION_TOP_K,
    blockRows: o.blockRows,
    // CIRR (and SEARLE's CIRR code) removes the reference; SEARLE's CIRCO code keeps it
    exclude: ann.queries.map((_, i) => (cirr && refs[i] !== undefined ? [refs[i]!] : [])),
    watch: ann.queries.map((q, i) => (cirr ? (q.subset ?? []).map((m) => resolver.resolve(m)).filter((m): m is string => m !== undefined && m !== refs[i]) : [])),
    skip: composed.map((c) => c === null),
  });
  const recall = new Map<string, string[]>();
  const subset = cirr ? new Map<string, string[]>() : null;
  ann.queries.forEach((q, i) => {
    const key = cirr ? String(Number.parseInt(q.id, 10)) : q.id;
    const r = result.rankings[i];
    recall.set(key, r.hits.map((h) => name(h.id)));
    subset?.set(key, [...r.watched.values()].sort((a, b) => b.score - a.score || a.position - b.position)
      .slice(0, CIRR_SUBSET_TOP_K).map((h) => name(h.id)));
  });
  return {
    dataset: ann.dataset, recall, subset, gallerySize: result.gallerySize,
    unanswerable: ann.queries.filter((_, i) => composed[i] === null).map((q) => q.id),
  };
}

/** json.dump(obj, f, sort_keys=True): Python's default separators and key order. */
export function pythonSortedJson(obj: Record<string, string | string[]>): string {
  const keys = Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${Array.isArray(obj[k]) ? `[${(obj[k] as string[]).map((s) => JSON.stringify(s)).join(', ')}]` : JSON.stringify(obj[k])}`).join(', ')}}`;
}

/** The file contents: CIRR's two objects (recall, recall_subset) or CIRCO's one. */
export function submissionObjects(r: SubmissionRankings): { recall: Record<string, string | string[]>; subset?: Record<string, string | string[]> } {
  if (r.dataset === 'cirr') {
    return {
      recall: { version: 'rc2', metric: 'recall', ...Object.fromEntries(r.recall) },
      subset: { version: 'rc2', metric: 'recall_subset', ...Object.fromEntries(r.subset!) },
    };
  }
  return { recall: Object.fromEntries(r.recall) };
}
