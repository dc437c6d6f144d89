/**
 * What the report shows of a run folder (or a folder of shard run folders), read one part at a time
 * through the schemas/ readers so memory stays bounded: the manifest, the errors, a sample of the
 * concepts, the phrases per concept, the OTI losses and timings, and the training metrics.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Table, tableFromIPC } from 'apache-arrow';
import * as conceptsSchema from '../../schemas/concepts.ts';
import * as errorsSchema from '../../schemas/errors.ts';
import * as imagesSchema from '../../schemas/images.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { readNumbers, readStrings } from '../../schemas/columns.ts';
import { listDoneParts, readPart, readPartStats } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { type InspectReport, inspectRun } from '../inspect-run.ts';
import { findRunDirs } from '../merge-runs.ts';
import { type RunManifest, readRunManifest } from '../run-manifest.ts';

/** The report only looks (a writer may be at work): a damaged part is refused, not moved aside. */
const LOOK = { quarantine: false } as const;

export interface ConceptSample { imageId: string; path: string | null; concepts: string[]; scores: number[] }
export interface PhraseExample { phrase: string; swapped: string }
export interface ConceptPhrases {
  concept: string; status: string; raw: number; kept: number;
  dropped: Record<string, number>; reason?: string; examples: PhraseExample[];
}
export interface OtiPartTiming { where: string; rows: number; ok: number; failed: number; computeS: number; seconds: number }
export interface TrainingMetrics { name: string; columns: string[]; rows: Record<string, number>[] }

export interface RunData {
  dir: string;
  runDirs: string[];
  manifest: RunManifest | null;
  /** per stage, summed over shards */
  stages: { stage: string; status: string; seconds: number; counts: Record<string, number> }[];
  inspect: InspectReport;
  /** warnings/notes lists found in run.json, as text lines */
  warnings: string[];
  errors: { rows: errorsSchema.ErrorRow[]; total: number; byStageCode: { stage: string; code: string; count: number }[] };
  concepts: { total: number; sample: ConceptSample[] };
  phrases: { concepts: number; phrases: number; shown: ConceptPhrases[] };
  oti: { lcos: number[]; lgpt: number[]; failed: { imageId: string; error: string }[]; parts: OtiPartTiming[] } | null;
  training: TrainingMetrics[];
}

export interface RunDataOptions {
  /** images with thumbnails and concepts, concepts with phrases, queries (default 300) */
  sample: number;
  /** error rows listed by name (the table by stage and reason counts them all) */
  maxErrorRows?: number;
}

/** `count` evenly spaced positions out of `total` (all when total ≤ count). */
export function spreadSample(total: number, count: number): Set<number> {
  const out = new Set<number>();
  if (total <= count) { for (let i = 0; i < total; i++) out.add(i); return out; }
  for (let i = 0; i < count; i++) out.add(Math.floor((i * total) / count));
  return out;
}

function textLines(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(textLines);
  if (typeof v === 'string') return [v];
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const msg = o.message ?? o.text ?? o.reason;
    return [typeof msg === 'string' ? [o.stage, o.code, msg].filter((x) => typeof x === 'string').join(': ') : JSON.stringify(v)];
  }
  return [String(v)];
}

/** Image id → path for the wanted ids, from the ingest images parts. */
export function imagePaths(runDirs: readonly string[], wanted: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const runDir of runDirs) {
    const dir = stageDir(runDir, 'ingest');
    for (const p of listDoneParts(dir, imagesSchema.KIND)) {
      for (const r of imagesSchema.fromTable(readPart(dir, imagesSchema.KIND, p, LOOK))) if (wanted.has(r.imageId)) out.set(r.imageId, r.path);
      if (out.size === wanted.size) return out;
    }
  }
  return out;
}

function sumStages(runDirs: readonly string[]): RunData['stages'] {
  const by = new Map<string, RunData['stages'][number]>();
  for (const d of runDirs) {
    for (const [stage, rec] of Object.entries(readRunManifest(d)?.stages ?? {})) {
      const e = by.get(stage) ?? { stage, status: rec.status, seconds: 0, counts: {} };
      e.seconds += rec.seconds ?? 0;
      if (rec.status !== 'done') e.status = rec.status;
      for (const [k, n] of Object.entries(rec.counts ?? {})) if (typeof n === 'number') e.counts[k] = (e.counts[k] ?? 0) + n;
      by.set(stage, e);
    }
  }
  return [...by.values()];
}

function readErrors(runDirs: readonly string[], maxRows: number): RunData['errors'] {
  const rows: errorsSchema.ErrorRow[] = [];
  const counts = new Map<string, number>();
  let total = 0;
  for (const runDir of runDirs) {
    for (const stage of readdirSync(runDir)) {
      const dir = join(runDir, stage);
      if (!statSync(dir).isDirectory()) continue;
      for (const p of listDoneParts(dir, errorsSchema.KIND)) {
        if (readPartStats(dir, errorsSchema.KIND, p).rows === 0) continue;
        for (const e of errorsSchema.fromTable(readPart(dir, errorsSchema.KIND, p, LOOK))) {
          total++;
          const key = `${e.stage}\u0000${e.code}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
          if (rows.length < maxRows) rows.push(e);
        }
      }
    }
  }
  const byStageCode = [...counts].map(([k, count]) => { const [stage, code] = k.split('\u0000'); return { stage, code, count }; })
    .sort((a, b) => b.count - a.count);
  return { rows, total, byStageCode };
}

function readConcepts(runDirs: readonly string[], sample: number): RunData['concepts'] {
  const parts: { dir: string; p: number; rows: number }[] = [];
  for (const runDir of runDirs) {
    const dir = stageDir(runDir, 'concepts');
    for (const p of listDoneParts(dir, conceptsSchema.KIND)) parts.push({ dir, p, rows: readPartStats(dir, conceptsSchema.KIND, p).rows });
  }
  const total = parts.reduce((n, x) => n + x.rows, 0);
  const pick = spreadSample(total, sample);
  const out: ConceptSample[] = [];
  let base = 0;
  for (const { dir, p, rows } of parts) {
    if ([...pick].some((i) => i >= base && i < base + rows)) {
      conceptsSchema.fromTable(readPart(dir, conceptsSchema.KIND, p, LOOK)).forEach((r, i) => {
        if (pick.has(base + i)) out.push({ imageId: r.imageId, path: null, concepts: r.concepts.slice(0, 10), scores: [...r.scores.slice(0, 10)] });
      });
    }
    base += rows;
  }
  const paths = imagePaths(runDirs, new Set(out.map((s) => s.imageId)));
  for (const s of out) s.path = paths.get(s.imageId) ?? null;
  return { total, sample: out };
}

const DROP_KEYS = [['droppedWithoutConcept', 'concept not in the phrase'], ['droppedEmpty', 'empty'],
  ['droppedDuplicate', 'duplicate'], ['droppedTooLong', 'too long']] as const;

function readPhrases(runDirs: readonly string[], sample: number, examplesPer = 3): RunData['phrases'] {
  // Phrases are made once per run (shards share concepts): the first run folder that has them.
  const dir = runDirs.map((d) => stageDir(d, 'phrases')).find((d) => listDoneParts(d, phrasesSchema.KIND).length > 0);
  if (!dir) return { concepts: 0, phrases: 0, shown: [] };
  const parts = listDoneParts(dir, phrasesSchema.KIND);
  const summaries = new Map<string, ConceptPhrases>();
  let phrases = 0;
  for (const p of parts) {
    const stats = readPartStats(dir, phrasesSchema.KIND, p);
    phrases += stats.rows;
    for (const [concept, s] of Object.entries((stats.concepts ?? {}) as Record<string, Record<string, unknown>>)) {
      const dropped: Record<string, number> = {};
      for (const [k, label] of DROP_KEYS) if (typeof s[k] === 'number' && (s[k] as number) > 0) dropped[label] = s[k] as number;
      summaries.set(concept, { concept, status: String(s.status ?? 'ok'), raw: Number(s.raw ?? 0), kept: Number(s.kept ?? 0), dropped,
        reason: typeof s.reason === 'string' ? s.reason : undefined, examples: [] });
    }
  }
  // Failed and dropped concepts first (what a user must look at), then by name.
  const order = [...summaries.values()].sort((a, b) => Number(a.status === 'ok') - Number(b.status === 'ok') || a.concept.localeCompare(b.concept));
  const shown = order.slice(0, sample);
  const want = new Map(shown.map((c) => [c.concept, c]));
  for (const p of parts) {
    const part = phrasesSchema.fromTable(readPart(dir, phrasesSchema.KIND, p, LOOK));
    for (const r of part.rows) {
      const c = want.get(r.concept);
      if (c && c.examples.length < examplesPer) c.examples.push({ phrase: r.phrase, swapped: r.swapped });
    }
  }
  return { concepts: summaries.size, phrases, shown };
}

function readOti(runDirs: readonly string[], maxFailed: number): RunData['oti'] {
  const lcos: number[] = [], lgpt: number[] = [];
  const failed: { imageId: string; error: string }[] = [];
  const parts: OtiPartTiming[] = [];
  for (const runDir of runDirs) {
    const dir = stageDir(runDir, 'oti');
    for (const p of listDoneParts(dir, 'tokens')) {
      const stats = readPartStats(dir, 'tokens', p);
      const table = readPart(dir, 'tokens', p, LOOK);
      const status = readStrings(table, 'status'), ids = readStrings(table, 'image_id'), errs = readStrings(table, 'error');
      const c = readNumbers(table, 'lcos'), g = readNumbers(table, 'lgpt');
      status.forEach((s, i) => {
        if (s === 'ok') { lcos.push(c[i] ?? NaN); lgpt.push(g[i] ?? NaN); } else if (failed.length < maxFailed) failed.push({ imageId: ids[i] ?? '', error: errs[i] ?? 'failed' });
      });
      parts.push({ where: `${runDirs.length > 1 ? `${runDir.split('/').pop()}/` : ''}oti/tokens part ${p}`, rows: stats.rows,
        ok: Number(stats.ok ?? 0), failed: Number(stats.failed ?? 0), computeS: Number(stats.compute_s ?? NaN), seconds: Number(stats.seconds ?? NaN) });
    }
  }
  return parts.length ? { lcos, lgpt, failed, parts } : null;
}

/** Every numeric column of a metrics table (phi, Pic2Word, or what a later version adds), row by row. */
export function metricsRows(table: Table): { columns: string[]; rows: Record<string, number>[] } {
  const columns = table.schema.fields.filter((f) => /Int|Float/.test(String(f.type))).map((f) => f.name);
  const cols = columns.map((c) => readNumbers(table, c));
  const rows = Array.from({ length: table.numRows }, (_, i) => Object.fromEntries(columns.map((c, j) => [c, cols[j][i] ?? NaN])));
  return { columns, rows };
}

function readTraining(runDirs: readonly string[]): TrainingMetrics[] {
  const out: TrainingMetrics[] = [];
  const runDir = runDirs[0];
  if (!runDir || !existsSync(runDir)) return out;
  for (const name of readdirSync(runDir).sort()) {
    const file = join(runDir, name, 'metrics.arrow');
    if (!existsSync(file)) continue;
    out.push({ name, ...metricsRows(tableFromIPC(readFileSync(file))) });
  }
  return out;
}

export function readRunData(dir: string, opts: RunDataOptions): RunData {
  const runDirs = findRunDirs(dir);
  const manifest = readRunManifest(runDirs[0]);
  const warnings = runDirs.flatMap((d) => {
    const m = readRunManifest(d) as (RunManifest & { warnings?: unknown; notes?: unknown }) | null;
    return [...textLines(m?.warnings), ...textLines(m?.notes)];
  });
  return {
    dir, runDirs, manifest,
    stages: sumStages(runDirs),
    inspect: inspectRun(dir),
    warnings: [...new Set(warnings)],
    errors: readErrors(runDirs, opts.maxErrorRows ?? 500),
    concepts: readConcepts(runDirs, opts.sample),
    phrases: readPhrases(runDirs, opts.sample),
    oti: readOti(runDirs, 500),
    training: readTraining(runDirs),
  };
}
