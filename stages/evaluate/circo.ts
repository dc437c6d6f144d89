/**
 * CIRCO (Baldrati et al., ICCV 2023): annotations/<split>.json, a JSON array of {id, reference_img_id,
 * target_img_id, relative_caption, shared_concept, gt_img_ids: [target first, …], semantic_aspects};
 * ids are COCO 2017 unlabeled image ids (integers; matched to gallery files like 000000271520.jpg by
 * the id resolver). The test split has no target or ground truths.
 * Metrics (CIRCO's evaluation.py): mAP@5/10/25/50 with AP@k = (1/min(k, |GT|)) Σ_{i≤k} P@i·rel(i), and
 * Recall@k of the single target.
 */
import { UserError } from '../../util/errors.ts';
import { findFile, isFile, readJsonFile, recordsOf, stringField } from './annotation-files.ts';
import { type Curve, averagePrecisionAt, percent, recallAt } from './metrics.ts';
import type { Annotations, EvalQuery, MetricResult, QueryOutcome } from './types.ts';

export function parseCirco(json: unknown, where: string): EvalQuery[] {
  return recordsOf(json, where).map((r, i) => {
    const at = `${where} entry ${i}`;
    const caption = 'relative_caption' in r ? stringField(r, 'relative_caption', at) : stringField(r, 'caption', at);
    const gts = r.gt_img_ids;
    let targets: string[] = [];
    if (gts !== undefined) {
      if (!Array.isArray(gts) || !gts.every((g) => typeof g === 'number' || typeof g === 'string')) {
        throw new UserError(`${at}: gt_img_ids should be an array of image ids`);
      }
      // SEARLE pads with '' for batching; CIRCO itself does not. Drop empties either way.
      targets = gts.map(String).filter((g) => g !== '');
      const target = r.target_img_id === undefined ? undefined : String(r.target_img_id);
      if (target !== undefined && targets[0] !== target) {
        targets = [target, ...targets.filter((g) => g !== target)];
      }
    } else if (r.target_img_id !== undefined) {
      targets = [String(r.target_img_id)];
    }
    return { id: stringField(r, 'id', at), reference: stringField(r, 'reference_img_id', at), captions: [caption], targets, group: '' };
  });
}

/** `path`: <split>.json itself, or the CIRCO folder holding annotations/<split>.json. */
export function loadCirco(path: string, split = 'val'): Annotations {
  const file = isFile(path) ? path : findFile(path, [`annotations/${split}.json`, `${split}.json`], `CIRCO ${split} annotations`);
  return { dataset: 'circo', split, queries: parseCirco(readJsonFile(file), file), galleries: new Map(), sources: [file] };
}

export const CIRCO_KS = [5, 10, 25, 50];

export function circoMetrics(outcomes: readonly QueryOutcome[]): MetricResult {
  const metrics: Record<string, number> = {};
  for (const k of CIRCO_KS) metrics[`mAP@${k}`] = percent(outcomes.map((o) => averagePrecisionAt(o.ranked, o.gts, k)));
  for (const k of CIRCO_KS) metrics[`R@${k}`] = percent(outcomes.map((o) => recallAt(o.ranked, o.target, k)));
  const ks = Array.from({ length: 50 }, (_, i) => i + 1);
  const curves: Curve[] = [
    { label: 'CIRCO mAP@k', k: ks, values: ks.map((k) => percent(outcomes.map((o) => averagePrecisionAt(o.ranked, o.gts, k)))) },
    { label: 'CIRCO Recall@k (target)', k: ks, values: ks.map((k) => percent(outcomes.map((o) => recallAt(o.ranked, o.target, k)))) },
  ];
  return { metrics, curves };
}
