/**
 * Retrieval metrics on ranked id lists (gallery ids, best first, reference already excluded). A target
 * that is not in the gallery is `undefined` and never matches: the query counts as a miss. Values are
 * per query in [0, 1]; `percent` averages them ×100 as the benchmarks report.
 */

/** 1 when `target` is among the first k of `ranked`. */
export function recallAt(ranked: readonly string[], target: string | undefined, k: number): number {
  if (target === undefined) return 0;
  const n = Math.min(k, ranked.length);
  for (let i = 0; i < n; i++) if (ranked[i] === target) return 1;
  return 0;
}

/**
 * CIRCO's AP@k: (1 / min(k, |GT|)) · Σ_{i≤k} P@i · rel(i), with |GT| counting every ground truth of the
 * annotation (one missing from the gallery still counts in the denominator, as in CIRCO's evaluation).
 */
export function averagePrecisionAt(ranked: readonly string[], gts: readonly (string | undefined)[], k: number): number {
  if (gts.length === 0) return 0;
  const set = new Set(gts.filter((g): g is string => g !== undefined));
  let hits = 0;
  let sum = 0;
  const n = Math.min(k, ranked.length);
  for (let i = 0; i < n; i++) {
    if (set.has(ranked[i])) { hits++; sum += hits / (i + 1); }
  }
  return sum / Math.min(k, gts.length);
}

/** Mean × 100 (0 for no values). */
export function percent(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let s = 0;
  for (const v of values) s += v;
  return (100 * s) / values.length;
}

/** A metric curve for the plot: value (percent) at each k. */
export interface Curve { label: string; k: number[]; values: number[] }

export function recallCurve(label: string, items: readonly { ranked: readonly string[]; target?: string }[], kMax: number): Curve {
  const k: number[] = [];
  const values: number[] = [];
  for (let kk = 1; kk <= kMax; kk++) {
    k.push(kk);
    values.push(percent(items.map((it) => recallAt(it.ranked, it.target, kk))));
  }
  return { label, k, values };
}
