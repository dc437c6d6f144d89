/**
 * The evaluation side of the report: the method × metric table (the JSON that `evaluate --out` writes —
 * one report, an array of them, or a methods table whose rows carry `method`/`label` and `metrics`) and
 * the per-query rankings (`evaluate --rankings FILE`, JSON lines: one query and method each).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../util/errors.ts';

export interface MethodRow {
  /** what the table calls it (a label such as 'searle-oti', or the method name) */
  method: string;
  metrics: Record<string, number>;
  /** why the method did not run, when it did not */
  reason?: string;
  dataset?: string;
  split?: string;
  queries?: number;
}

/** One line of rankings.jsonl. */
export interface RankingLine {
  method: string;
  dataset?: string;
  query: string;
  reference: string;
  captions: string[];
  /** ground truths, the target first (gallery ids) */
  gts: string[];
  /** best first */
  top: { id: string; score: number }[];
  /** the gallery index the ids belong to */
  index?: string;
}

export interface EvalData { sources: string[]; methods: MethodRow[]; rankings: RankingLine[] }

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The method rows of any of the table layouts evaluate writes; [] when the JSON holds none. */
export function methodRows(json: unknown): MethodRow[] {
  const list: unknown[] = Array.isArray(json) ? json
    : isRecord(json) && Array.isArray(json.methods) ? json.methods
      : isRecord(json) && Array.isArray(json.rows) ? json.rows
        : isRecord(json) && Array.isArray(json.reports) ? json.reports : [json];
  const out: MethodRow[] = [];
  for (const r of list) {
    if (!isRecord(r)) continue;
    const name = typeof r.label === 'string' ? r.label : typeof r.method === 'string' ? r.method : typeof r.name === 'string' ? r.name : undefined;
    if (!name) continue;
    const metrics: Record<string, number> = {};
    if (isRecord(r.metrics)) for (const [k, v] of Object.entries(r.metrics)) if (typeof v === 'number') metrics[k] = v;
    const reason = typeof r.reason === 'string' ? r.reason : typeof r.error === 'string' ? r.error : undefined;
    if (Object.keys(metrics).length === 0 && !reason) continue;
    out.push({ method: name, metrics, reason, dataset: typeof r.dataset === 'string' ? r.dataset : undefined,
      split: typeof r.split === 'string' ? r.split : undefined, queries: typeof r.queries === 'number' ? r.queries : undefined });
  }
  return out;
}

function readJson(path: string): unknown {
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch (err) {
    throw new UserError(`--eval ${path}: not valid JSON (${(err as Error).message})`);
  }
}

export function parseRankings(text: string, where: string): RankingLine[] {
  const out: RankingLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: unknown;
    try { r = JSON.parse(line); } catch { throw new UserError(`${where} line ${i + 1}: not valid JSON`); }
    if (!isRecord(r) || typeof r.method !== 'string' || typeof r.query !== 'string' || !Array.isArray(r.top)) {
      throw new UserError(`${where} line ${i + 1}: expected {method, query, reference, captions, gts, top}`);
    }
    out.push(r as unknown as RankingLine);
  });
  return out;
}

/**
 * `path`: a folder holding the table JSON(s) and rankings.jsonl (or *.rankings.jsonl), or one table
 * JSON file, whose rankings are looked for beside it (`<base>.rankings.jsonl`, then rankings.jsonl).
 */
export function readEvalData(path: string): EvalData {
  if (!existsSync(path)) throw new UserError(`--eval ${path}: no such file or folder`);
  let jsonFiles: string[], rankingFiles: string[];
  if (statSync(path).isDirectory()) {
    const names = readdirSync(path).sort();
    jsonFiles = names.filter((n) => n.endsWith('.json')).map((n) => join(path, n));
    rankingFiles = names.filter((n) => n === 'rankings.jsonl' || n.endsWith('.rankings.jsonl')).map((n) => join(path, n));
  } else {
    jsonFiles = [path];
    const base = path.replace(/\.json$/i, '');
    rankingFiles = [`${base}.rankings.jsonl`, join(dirname(path), 'rankings.jsonl')].filter((f) => existsSync(f)).slice(0, 1);
  }
  const methods: MethodRow[] = [];
  const sources: string[] = [];
  for (const f of jsonFiles) {
    const rows = methodRows(readJson(f));
    if (rows.length) { methods.push(...rows); sources.push(f); }
  }
  const rankings = rankingFiles.flatMap((f) => { sources.push(f); return parseRankings(readFileSync(f, 'utf8'), f); });
  if (methods.length === 0 && rankings.length === 0) {
    throw new UserError(`--eval ${path}: no evaluation table (evaluate --out) or rankings (evaluate --rankings) found${statSync(path).isDirectory() ? '' : ` in ${basename(path)}`}`);
  }
  return { sources, methods, rankings };
}

/** The metric that orders methods: mAP@5 (CIRCO), R@1 (CIRR), the FashionIQ average R@10, else the first. */
export function headlineMetric(methods: readonly MethodRow[]): string | undefined {
  const names = [...new Set(methods.flatMap((m) => Object.keys(m.metrics)))];
  for (const pref of ['mAP@5', 'R@1', 'average R@10', 'avg R@10', 'R@10']) if (names.includes(pref)) return pref;
  return names[0];
}
