/**
 * FashionIQ (Wu et al., CVPR 2021): captions/cap.<category>.<split>.json, a JSON array of
 * {candidate, target, captions: [two relative captions]} for the categories dress, shirt and toptee;
 * each category's gallery is image_splits/split.<category>.<split>.json (a JSON array of names).
 * Metrics (as SEARLE's validate.py): Recall@10 and Recall@50 per category, each category ranked against
 * its own gallery, and their mean over the categories.
 */
import { basename, dirname } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { findOptional, isFile, readJsonFile, recordsOf, stringField } from './annotation-files.ts';
import { type Curve, percent, recallAt, recallCurve } from './metrics.ts';
import type { Annotations, EvalQuery, MetricResult, QueryOutcome } from './types.ts';

export const FIQ_CATEGORIES = ['dress', 'shirt', 'toptee'] as const;

export function parseFashionIq(json: unknown, category: string, where: string): EvalQuery[] {
  return recordsOf(json, where).map((r, i) => {
    const at = `${where} entry ${i}`;
    const caps = r.captions;
    if (!Array.isArray(caps) || caps.length !== 2 || !caps.every((c) => typeof c === 'string')) {
      throw new UserError(`${at}: captions should be an array of two strings`);
    }
    const target = r.target;
    if (target !== undefined && typeof target !== 'string') throw new UserError(`${at}: target should be a string`);
    return {
      id: `${category}/${i}`,
      reference: stringField(r, 'candidate', at),
      captions: caps as string[],
      targets: target === undefined ? [] : [target],
      group: category,
    };
  });
}

/**
 * `path`: a FashionIQ folder (with captions/ and image_splits/, or the captions folder itself), or one
 * cap.<category>.<split>.json file (that category only). `categories` narrows the folder case.
 */
export function loadFashionIq(path: string, split = 'val', categories: readonly string[] = FIQ_CATEGORIES): Annotations {
  const files: { category: string; file: string }[] = [];
  let roots: string[];
  if (isFile(path)) {
    const m = /^cap\.([^.]+)\.([^.]+)\.json$/.exec(basename(path));
    if (!m) throw new UserError(`${path}: expected a file named cap.<category>.<split>.json`);
    files.push({ category: m[1], file: path });
    roots = [dirname(dirname(path)), dirname(path)];
  } else {
    roots = [path, dirname(path)];
    for (const c of categories) {
      const f = findOptional(path, [`captions/cap.${c}.${split}.json`, `cap.${c}.${split}.json`]);
      if (f) files.push({ category: c, file: f });
    }
    if (files.length === 0) throw new UserError(`${path}: no FashionIQ captions/cap.<category>.${split}.json for ${categories.join(', ')}`);
  }
  const queries: EvalQuery[] = [];
  const galleries = new Map<string, string[]>();
  const sources: string[] = [];
  for (const { category, file } of files) {
    queries.push(...parseFashionIq(readJsonFile(file), category, file));
    sources.push(file);
    const fileSplit = isFile(path) ? /^cap\.[^.]+\.([^.]+)\.json$/.exec(basename(file))![1] : split;
    const splitFile = roots.map((r) => findOptional(r, [`image_splits/split.${category}.${fileSplit}.json`])).find(Boolean);
    if (splitFile) {
      const names = readJsonFile(splitFile);
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new UserError(`${splitFile}: expected a JSON array of image names`);
      galleries.set(category, names as string[]);
      sources.push(splitFile);
    }
  }
  return { dataset: 'fashioniq', split, queries, galleries, sources };
}

export function fashionIqMetrics(outcomes: readonly QueryOutcome[]): MetricResult {
  const metrics: Record<string, number> = {};
  const curves: Curve[] = [];
  const cats = [...new Set(outcomes.map((o) => o.query.group))];
  const r10: number[] = [];
  const r50: number[] = [];
  for (const c of cats) {
    const items = outcomes.filter((o) => o.query.group === c);
    const a = percent(items.map((o) => recallAt(o.ranked, o.target, 10)));
    const b = percent(items.map((o) => recallAt(o.ranked, o.target, 50)));
    metrics[`${c} R@10`] = a;
    metrics[`${c} R@50`] = b;
    r10.push(a); r50.push(b);
    curves.push(recallCurve(`${c} Recall@k`, items, 50));
  }
  // SEARLE reports the plain mean of the category recalls.
  metrics['average R@10'] = r10.reduce((s, v) => s + v, 0) / Math.max(r10.length, 1);
  metrics['average R@50'] = r50.reduce((s, v) => s + v, 0) / Math.max(r50.length, 1);
  return { metrics, curves };
}
