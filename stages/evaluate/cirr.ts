/**
 * CIRR (Liu et al., ICCV 2021): captions/cap.rc2.<split>.json, a JSON array of
 * {pairid, reference, target_hard, caption, img_set: {members: [6 names]}, ...}; the test split
 * ("test1") has no target_hard. The gallery of a split is the keys of image_splits/split.rc2.<split>.json.
 * Metrics (CIRR's own evaluation, which SEARLE's validate.py follows): Recall@1/5/10/50 over the whole
 * gallery with the reference removed, and Recall_subset@1/2/3 ranking only img_set's members other
 * than the reference.
 */
import { dirname } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { findFile, findOptional, isFile, readJsonFile, recordsOf, stringField } from './annotation-files.ts';
import { percent, recallAt, recallCurve } from './metrics.ts';
import type { Annotations, EvalQuery, MetricResult, QueryOutcome } from './types.ts';

/** CIRR names its test split test1. */
export function cirrSplit(split: string): string {
  return split === 'test' ? 'test1' : split;
}

export function parseCirr(json: unknown, where: string): EvalQuery[] {
  return recordsOf(json, where).map((r, i) => {
    const at = `${where} entry ${i}`;
    const set = r.img_set as { members?: unknown } | undefined;
    const members = set?.members;
    if (!Array.isArray(members) || !members.every((m) => typeof m === 'string')) {
      throw new UserError(`${at}: img_set.members should be an array of image names`);
    }
    const target = r.target_hard;
    if (target !== undefined && typeof target !== 'string') throw new UserError(`${at}: target_hard should be a string`);
    return {
      id: stringField(r, 'pairid', at),
      reference: stringField(r, 'reference', at),
      captions: [stringField(r, 'caption', at)],
      targets: target === undefined ? [] : [target],
      subset: members as string[],
      group: '',
    };
  });
}

/** `path`: cap.rc2.<split>.json itself, or a CIRR folder holding captions/ (or cirr/captions/). */
export function loadCirr(path: string, split = 'val'): Annotations {
  const s = cirrSplit(split);
  const captions = isFile(path) ? path
    : findFile(path, [`captions/cap.rc2.${s}.json`, `cirr/captions/cap.rc2.${s}.json`, `cap.rc2.${s}.json`], `CIRR ${s} captions`);
  const root = dirname(dirname(captions));
  const splitFile = findOptional(root, [`image_splits/split.rc2.${s}.json`])
    ?? findOptional(dirname(captions), [`split.rc2.${s}.json`]);
  const galleries = new Map<string, string[]>();
  const sources = [captions];
  if (splitFile) {
    const names = readJsonFile(splitFile);
    if (names === null || typeof names !== 'object' || Array.isArray(names)) throw new UserError(`${splitFile}: expected an object of name → path`);
    galleries.set('', Object.keys(names));
    sources.push(splitFile);
  }
  return { dataset: 'cirr', split: s, queries: parseCirr(readJsonFile(captions), captions), galleries, sources };
}

export const CIRR_KS = [1, 5, 10, 50];
export const CIRR_SUBSET_KS = [1, 2, 3];

export function cirrMetrics(outcomes: readonly QueryOutcome[]): MetricResult {
  const metrics: Record<string, number> = {};
  for (const k of CIRR_KS) metrics[`R@${k}`] = percent(outcomes.map((o) => recallAt(o.ranked, o.target, k)));
  for (const k of CIRR_SUBSET_KS) metrics[`Rsubset@${k}`] = percent(outcomes.map((o) => recallAt(o.subsetRanked, o.target, k)));
  return { metrics, curves: [recallCurve('CIRR Recall@k', outcomes, 50)] };
}

