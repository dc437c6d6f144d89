/**
 * `starword inspect OUT`: what a run folder (or a folder of shard run folders) holds: images planned,
 * parts and rows per stage, failures by category and stage, the distribution of the OTI losses, and
 * timings (per stage from run.json, per phase from the parts' stats). Reads one part at a time.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as errors from '../schemas/errors.ts';
import { readNumbers, readStrings } from '../schemas/columns.ts';
import { checkPart, partModelHash, partPaths, readPart, readPartStats } from '../schemas/part-io.ts';
import { UserError, errorMessage } from '../util/errors.ts';
import { readPlan } from '../schemas/run-layout.ts';
import { readRunManifest } from './run-manifest.ts';
import { findRunDirs, isPlanAligned, stageKinds } from './merge-runs.ts';

export interface Distribution { count: number; min: number; median: number; p90: number; max: number }

export interface InspectReport {
  runs: number;
  shardCount: number;
  images: { source: number; planned: number };
  /** per '<stage>/<kind>' */
  parts: Record<string, { done: number; planned: number; rows: number }>;
  failures: { total: number; byCode: Record<string, number>; byStage: Record<string, number>; examples: string[] };
  tokens: { ok: number; failed: number; lcos: Distribution | null; lgpt: Distribution | null } | null;
  /** seconds: per stage from run.json (summed over shards), and per '<stage>/<kind>' phase from part stats */
  timings: { stages: Record<string, number>; phases: Record<string, Record<string, number>> };
  /** parts checked ('size': marker and file size; 'full': content hash, Arrow stream and rows too) and those that failed */
  integrity: { level: 'size' | 'full'; checked: number; bad: { path: string; reason: string }[] };
  /** files of the source left out as not images (from the ingest plan), by extension */
  skippedFiles: { count: number; byExtension: Record<string, number> };
  /** symbolic links of a source folder left out, not followed (from the ingest plan) */
  skippedLinks: number;
  /** run.json's warnings and notes (deduplicated over shards) */
  warnings: string[];
  notes: string[];
  /**
   * where the stages ran, e.g. 'cpu on AMD EPYC (ingest, embed, concepts, phrases)', 'webgpu on NVIDIA H100 (oti)', from
   * each stage's record; runs whose stages recorded none give run.json's runtime device (deduplicated over shards)
   */
  devices: string[];
}

/** '1 file skipped as not an image (.txt 1)'. */
export function skippedFilesText(s: { count: number; byExtension: Record<string, number> }): string {
  const exts = Object.entries(s.byExtension).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([e, n]) => `${e} ${n}`);
  return `${s.count} ${s.count === 1 ? 'file' : 'files'} skipped as not an image (${exts.join(', ')})`;
}

/** Nearest-rank quantiles of the finite values. */
export function distribution(values: Iterable<number>): Distribution | null {
  const v = Float64Array.from([...values].filter(Number.isFinite)).sort();
  if (v.length === 0) return null;
  const q = (p: number): number => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  return { count: v.length, min: v[0], median: q(0.5), p90: q(0.9), max: v[v.length - 1] };
}

function partIndices(dir: string, kind: string): number[] {
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${kind}-(\\d{5,})\\.stats\\.json$`);
  return readdirSync(dir).map((n) => re.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
}

const add = (rec: Record<string, number>, key: string, n: number): void => { rec[key] = (rec[key] ?? 0) + n; };

/** '2 symbolic links skipped (pointing outside the folder, or broken)'. */
export function skippedLinksText(n: number): string {
  return `${n} symbolic ${n === 1 ? 'link' : 'links'} skipped (pointing outside the folder, or broken)`;
}

/** A part whose marker records another model than the run's (a part copied in from another run), or null. */
function foreignModel(dir: string, kind: string, p: number, runModel: string | null): { path: string; reason: string } | null {
  if (runModel === null) return null;
  const recorded = partModelHash(readPartStats(dir, kind, p));
  if (recorded === null || recorded === runModel) return null;
  return { path: partPaths(dir, kind, p).stats, reason: `made with another model (${recorded.slice(0, 16)}, this run's model is ${runModel.slice(0, 16)})` };
}

interface PhrasesSummaryFile { concepts?: number; phrases?: number; perConcept?: Record<string, { status?: string; reason?: string }> }

/**
 * The phrases stage's failures, from the summary it writes (phrases-summary.json): one per concept that
 * got no phrase ('llm-failed', or 'not-imported' for one missing from an import file), and one
 * 'no-phrases' when the stage kept no phrase at all without a failed concept to show for it.
 */
export function phrasesFailures(phrasesDir: string): { code: string; reason: string }[] {
  let summary: PhrasesSummaryFile;
  try {
    summary = JSON.parse(readFileSync(join(phrasesDir, 'phrases-summary.json'), 'utf8')) as PhrasesSummaryFile;
  } catch {
    return []; // no summary: the stage has not run here
  }
  const out = Object.entries(summary.perConcept ?? {}).filter(([, c]) => c.status === 'failed').map(([concept, c]) => ({
    code: c.reason === 'not in the import file' ? 'not-imported' : 'llm-failed', reason: `${concept}: ${c.reason ?? 'unknown'}`,
  }));
  if (out.length === 0 && summary.phrases === 0) out.push({ code: 'no-phrases', reason: `no phrase kept for any of ${summary.concepts ?? 0} concepts` });
  return out;
}

/** Every part of every stage (ingest's images included) is checked at `verify`; bad ones are listed, not counted. */
export function inspectRun(dir: string, verify: 'size' | 'full' = 'size'): InspectReport {
  const runDirs = findRunDirs(dir);
  const report: InspectReport = {
    runs: runDirs.length, shardCount: 0, images: { source: 0, planned: 0 }, parts: {},
    failures: { total: 0, byCode: {}, byStage: {}, examples: [] }, tokens: null, timings: { stages: {}, phases: {} },
    skippedFiles: { count: 0, byExtension: {} }, skippedLinks: 0, warnings: [], notes: [], devices: [],
    integrity: { level: verify, checked: 0, bad: [] },
  };
  let runModel: string | null = null;
  const sound = (stageDirPath: string, kind: string, p: number): boolean => {
    report.integrity.checked++;
    const check = checkPart(stageDirPath, kind, p, { level: verify });
    if (check !== 'ok') report.integrity.bad.push(check);
    else {
      const foreign = foreignModel(stageDirPath, kind, p, runModel);
      if (foreign) { report.integrity.bad.push(foreign); return false; }
    }
    return check === 'ok';
  };
  /** a part read anyway: readPart checks its content; a failure is listed instead of stopping the report */
  const read = (stageDirPath: string, kind: string, p: number) => {
    try {
      return readPart(stageDirPath, kind, p, { quarantine: false }); // only looks: a writer may be at work
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      const path = partPaths(stageDirPath, kind, p).arrow;
      report.integrity.bad.push({ path, reason: errorMessage(err).replace(`${path}: `, '') });
      return null;
    }
  };
  const lcos: number[] = [];
  const lgpt: number[] = [];
  for (const runDir of runDirs) {
    const plan = readPlan(runDir);
    const planned = plan?.parts ?? 0;
    if (plan) {
      report.shardCount = plan.shard.count;
      report.images.source = plan.sourceImages;
      report.images.planned += plan.images;
      // the plan counts the whole source, so every shard holds the same figures: take them once
      if (plan.skippedFiles && report.skippedFiles.count === 0) report.skippedFiles = plan.skippedFiles;
      report.skippedLinks = Math.max(report.skippedLinks, plan.skippedLinks ?? 0);
    }
    const manifest = readRunManifest(runDir);
    runModel = manifest?.model?.hash ?? null;
    for (const w of manifest?.warnings ?? []) if (!report.warnings.includes(w)) report.warnings.push(w);
    for (const n of manifest?.notes ?? []) if (!report.notes.includes(n)) report.notes.push(n);
    const byDevice = new Map<string, string[]>();
    for (const [stage, rec] of Object.entries(manifest?.stages ?? {})) if (rec.device) byDevice.set(rec.device, [...(byDevice.get(rec.device) ?? []), stage]);
    const runtimeDevice = deviceText(manifest?.runtime);
    const devices = byDevice.size ? [...byDevice].map(([d, stages]) => `${d} (${stages.join(', ')})`) : runtimeDevice ? [runtimeDevice] : [];
    for (const device of devices) if (!report.devices.includes(device)) report.devices.push(device);
    for (const [stage, rec] of Object.entries(readRunManifest(runDir)?.stages ?? {})) {
      if (rec.seconds !== undefined) add(report.timings.stages, stage, rec.seconds);
    }
    for (let p = 0; p < planned; p++) sound(join(runDir, 'ingest'), 'images', p);
    for (const f of phrasesFailures(join(runDir, 'phrases'))) {
      report.failures.total++;
      add(report.failures.byCode, f.code, 1);
      add(report.failures.byStage, 'phrases', 1);
      if (report.failures.examples.length < 5) report.failures.examples.push(`phrases ${f.code}: ${f.reason}`);
    }
    for (const key of stageKinds(runDir)) {
      const [stage, kind] = key.split('/');
      const stageDirPath = join(runDir, stage);
      const entry = (report.parts[key] ??= { done: 0, planned: 0, rows: 0 });
      // Parts one per images part: only those of the current plan count (a forced replan may leave
      // higher-numbered ones behind). Phrases are chunked by concept: every done part counts.
      const aligned = isPlanAligned(key);
      const indices = partIndices(stageDirPath, kind).filter((i) => !aligned || i < planned);
      entry.planned += aligned ? planned : indices.length;
      const phases = (report.timings.phases[key] ??= {});
      for (const p of indices) {
        if (!sound(stageDirPath, kind, p)) continue;
        const stats = readPartStats(stageDirPath, kind, p);
        entry.done++;
        entry.rows += stats.rows;
        for (const phase of ['read_s', 'compute_s', 'write_s']) {
          if (typeof stats[phase] === 'number') add(phases, phase, stats[phase] as number);
        }
        if (kind === errors.KIND && stats.rows > 0) {
          const table = read(stageDirPath, kind, p);
          for (const e of table ? errors.fromTable(table) : []) {
            report.failures.total++;
            add(report.failures.byCode, e.code, 1);
            add(report.failures.byStage, e.stage, 1);
            if (report.failures.examples.length < 5) report.failures.examples.push(`${e.stage} ${e.code}: ${e.reason}`);
          }
        }
        const tokensTable = kind === 'tokens' && stats.rows > 0 ? read(stageDirPath, kind, p) : null;
        if (tokensTable) {
          const table = tokensTable;
          const status = readStrings(table, 'status');
          const c = readNumbers(table, 'lcos');
          const g = readNumbers(table, 'lgpt');
          report.tokens ??= { ok: 0, failed: 0, lcos: null, lgpt: null };
          status.forEach((s, i) => {
            if (s === 'ok') { report.tokens!.ok++; lcos.push(c[i] ?? NaN); lgpt.push(g[i] ?? NaN); } else report.tokens!.failed++;
          });
        }
      }
      if (Object.keys(phases).length === 0) delete report.timings.phases[key];
    }
  }
  if (report.tokens) {
    report.tokens.lcos = distribution(lcos);
    report.tokens.lgpt = distribution(lgpt);
  }
  return report;
}

/** 'webgpu on llvmpipe (LLVM 15.0.6, 256 bits)' from run.json's runtime; runs made before the adapter was recorded give the device alone. */
function deviceText(runtime: Record<string, unknown> | undefined): string | null {
  if (!runtime || typeof runtime.device !== 'string') return null;
  return typeof runtime.adapter === 'string' ? `${runtime.device} on ${runtime.adapter}` : runtime.device;
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(4));

export function formatReport(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`runs: ${r.runs} (shard count ${r.shardCount}); images: ${r.images.planned} planned of ${r.images.source} in the source`);
  if (r.skippedFiles.count > 0) lines.push(`source: ${skippedFilesText(r.skippedFiles)}`);
  if (r.skippedLinks > 0) lines.push(`source: ${skippedLinksText(r.skippedLinks)}`);
  if (r.devices.length > 0) lines.push(`device: ${r.devices.join('; ')}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push('parts:');
  for (const [k, e] of Object.entries(r.parts)) lines.push(`  ${k.padEnd(20)} ${e.done}/${e.planned} parts, ${e.rows} rows`);
  lines.push(`failures: ${r.failures.total}`);
  for (const [code, n] of Object.entries(r.failures.byCode).sort((a, b) => b[1] - a[1])) lines.push(`  ${code.padEnd(20)} ${n}`);
  for (const ex of r.failures.examples) lines.push(`  e.g. ${ex}`);
  if (r.tokens) {
    lines.push(`tokens: ${r.tokens.ok} ok, ${r.tokens.failed} failed`);
    for (const [name, d] of [['lcos', r.tokens.lcos], ['lgpt', r.tokens.lgpt]] as const) {
      if (d) lines.push(`  ${name}: min ${fmt(d.min)}  median ${fmt(d.median)}  p90 ${fmt(d.p90)}  max ${fmt(d.max)}  (n=${d.count})`);
    }
  }
  lines.push('timings (s):');
  for (const [stage, s] of Object.entries(r.timings.stages)) lines.push(`  ${stage.padEnd(20)} ${s.toFixed(2)}`);
  for (const [k, ph] of Object.entries(r.timings.phases)) {
    lines.push(`  ${k.padEnd(20)} ${Object.entries(ph).map(([p, s]) => `${p.replace(/_s$/, '')} ${s.toFixed(2)}`).join('  ')}`);
  }
  const bad = r.integrity.bad;
  lines.push(`integrity (${r.integrity.level === 'full' ? 'size, sha256, rows' : 'marker and size'}): ${r.integrity.checked} parts checked, ${bad.length} bad`);
  for (const b of bad) lines.push(`  bad: ${b.path}: ${b.reason}`);
  return `${lines.join('\n')}\n`;
}
