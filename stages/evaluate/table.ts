/**
 * One table of every method on one benchmark, in the layout of the SEARLE talk's tables: a row per
 * method, a column per reported metric —
 * - FashionIQ: R@10 and R@50 per category, then their average;
 * - CIRR: R@1/5/10/50 and Rsubset@1/2/3;
 * - CIRCO: mAP@5/10/25/50.
 * A method that could not run keeps its row with a one-line reason. Written as text (stdout), JSON,
 * Markdown, CSV and a grouped bar chart (SVG and PNG, util/svg-charts.ts).
 *
 * The JSON is `EvaluationTable` below (kind `starword.evaluation-table`, version 1): the HTML report
 * and any other reader take its shape from this type.
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomicAsync } from '../../util/atomic-write.ts';
import { dirname } from 'node:path';
import { barChartSvg, svgToPng } from '../../util/svg-charts.ts';
import type { EvaluationReport } from './run-evaluate.ts';

export const TABLE_KIND = 'starword.evaluation-table';

export interface MethodRow {
  method: string;
  /** ok: the metrics were computed; skipped: the method could not run (see reason) */
  status: 'ok' | 'skipped';
  /** skipped: why, in one line (e.g. "no --pic2word-tokens given") */
  reason?: string;
  /** column → percent (only for status ok); named as the report reader (pipeline/report/eval-data.ts) expects */
  metrics: Record<string, number>;
  queries?: number;
  /** queries that could not be formed (no token, no caption…): counted as misses */
  unanswerable?: number;
  /** queries whose target is not in the gallery: counted as misses */
  missingTargets?: number;
  /** query id → why it could not be formed, where the method knows (failed caption or recomposition) */
  failures?: Record<string, string>;
  /** what the method paid or read, e.g. "captions: 3 requested, 97 cached, 0 failed" */
  notes?: string[];
}

export interface EvaluationTable {
  kind: typeof TABLE_KIND;
  version: 1;
  dataset: string;
  split: string;
  excludeReference: boolean;
  /** metric columns in order */
  columns: string[];
  rows: MethodRow[];
  /** the full report of every row that ran (all metrics, curves, missing ids, timings) */
  reports: EvaluationReport[];
}

export const FIQ_ORDER = ['dress', 'shirt', 'toptee'];

/** The talk's columns for a benchmark; FashionIQ's depend on the categories evaluated. */
export function tableColumns(dataset: string, reports: readonly EvaluationReport[]): string[] {
  if (dataset === 'cirr') return ['R@1', 'R@5', 'R@10', 'R@50', 'Rsubset@1', 'Rsubset@2', 'Rsubset@3'];
  if (dataset === 'circo') return ['mAP@5', 'mAP@10', 'mAP@25', 'mAP@50'];
  const cats = new Set(reports.flatMap((r) => Object.keys(r.metrics).map((m) => m.split(' ')[0]).filter((c) => c !== 'average')));
  const ordered = [...FIQ_ORDER.filter((c) => cats.has(c)), ...[...cats].filter((c) => !FIQ_ORDER.includes(c)).sort()];
  return [...ordered.flatMap((c) => [`${c} R@10`, `${c} R@50`]), 'average R@10', 'average R@50'];
}

export type RowInput = { method: string; report: EvaluationReport; notes?: string[] } | { method: string; reason: string };

export function buildTable(dataset: string, split: string, excludeReference: boolean, inputs: readonly RowInput[]): EvaluationTable {
  const reports = inputs.flatMap((i) => ('report' in i ? [i.report] : []));
  const columns = tableColumns(dataset, reports);
  const rows = inputs.map((i): MethodRow => {
    if (!('report' in i)) return { method: i.method, status: 'skipped', reason: i.reason, metrics: {} };
    const r = i.report;
    const metrics: Record<string, number> = {};
    for (const c of columns) if (c in r.metrics) metrics[c] = r.metrics[c];
    return {
      method: i.method, status: 'ok', metrics, queries: r.queries, unanswerable: r.unanswerable.length,
      missingTargets: r.missingTargets.length, ...(r.failures ? { failures: r.failures } : {}), ...(i.notes?.length ? { notes: i.notes } : {}),
    };
  });
  return { kind: TABLE_KIND, version: 1, dataset, split, excludeReference, columns, rows, reports };
}

const cell = (row: MethodRow, c: string): string => (c in row.metrics ? row.metrics[c].toFixed(2) : '-');

/** The misses a row's numbers include, said briefly ('' when none). */
function missNote(row: MethodRow): string {
  const parts: string[] = [];
  if (row.unanswerable) parts.push(`${row.unanswerable} of ${row.queries} queries unanswerable`);
  if (row.missingTargets) parts.push(`${row.missingTargets} targets not indexed`);
  return parts.join('; ');
}

/** Aligned text: a header, a rule, a row per method; a skipped row shows its reason where numbers would be. */
export function formatTableText(t: EvaluationTable): string {
  const head = [`${t.dataset} ${t.split}`, ...t.columns];
  const ok = t.rows.filter((r) => r.status === 'ok').map((r) => [r.method, ...t.columns.map((c) => cell(r, c))]);
  const widths = head.map((h, i) => Math.max(h.length, ...ok.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[0]) : s.padStart(widths[i]))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of t.rows) {
    if (r.status === 'skipped') { out.push(`${r.method.padEnd(widths[0])}  (not run: ${r.reason})`); continue; }
    const note = missNote(r);
    out.push(line([r.method, ...t.columns.map((c) => cell(r, c))]) + (note ? `  (${note})` : ''));
  }
  return `${out.join('\n')}\n`;
}

export function formatTableMarkdown(t: EvaluationTable): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [
    `| ${esc(`${t.dataset} ${t.split}`)} | ${t.columns.map(esc).join(' | ')} | note |`,
    `|---|${t.columns.map(() => '---:').join('|')}|---|`,
  ];
  for (const r of t.rows) {
    const note = r.status === 'skipped' ? `not run: ${r.reason}` : missNote(r);
    out.push(`| ${esc(r.method)} | ${t.columns.map((c) => cell(r, c)).join(' | ')} | ${esc(note ?? '')} |`);
  }
  return `${out.join('\n')}\n`;
}

/** RFC 4180 CSV: method, status, one column per metric (empty when not run), queries, unanswerable, note. */
export function formatTableCsv(t: EvaluationTable): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const out = [['method', 'status', ...t.columns, 'queries', 'unanswerable', 'note'].map(q).join(',')];
  for (const r of t.rows) {
    const vals = t.columns.map((c) => (c in r.metrics ? String(r.metrics[c]) : ''));
    const note = r.status === 'skipped' ? r.reason ?? '' : missNote(r);
    out.push([r.method, r.status, ...vals, String(r.queries ?? ''), String(r.unanswerable ?? ''), note].map(q).join(','));
  }
  return `${out.join('\r\n')}\r\n`;
}

/** Grouped bars: a group per column, a bar per method that ran. */
export function tableChartSvg(t: EvaluationTable): string {
  const ran = t.rows.filter((r) => r.status === 'ok');
  const skipped = t.rows.filter((r) => r.status === 'skipped').map((r) => r.method);
  // percent: the axis ends at the next multiple of 10 above the tallest bar, so no bar touches the frame
  const top = Math.max(0, ...ran.flatMap((r) => Object.values(r.metrics)).filter(Number.isFinite));
  return barChartSvg({
    yMax: Math.min(100, Math.max(10, Math.ceil((top + 1e-9) / 10) * 10)),
    title: `${t.dataset} ${t.split}${skipped.length ? ` (not run: ${skipped.join(', ')})` : ''}`,
    categories: t.columns,
    series: ran.map((r) => ({ name: r.method, values: t.columns.map((c) => r.metrics[c] ?? Number.NaN) })),
    yLabel: '%',
  });
}

export interface TablePaths { json: string; md: string; csv: string; svg: string; png: string }

/** Writes `<base>.json`, `.md`, `.csv`, `.svg` and `.png`. */
export async function writeTableFiles(base: string, t: EvaluationTable): Promise<TablePaths> {
  const paths = { json: `${base}.json`, md: `${base}.md`, csv: `${base}.csv`, svg: `${base}.svg`, png: `${base}.png` };
  await mkdir(dirname(paths.json), { recursive: true });
  await writeFileAtomicAsync(paths.json, `${JSON.stringify(t, null, 2)}\n`);
  await writeFileAtomicAsync(paths.md, formatTableMarkdown(t));
  await writeFileAtomicAsync(paths.csv, formatTableCsv(t));
  const svg = tableChartSvg(t);
  await writeFileAtomicAsync(paths.svg, svg);
  await writeFileAtomicAsync(paths.png, await svgToPng(svg));
  return paths;
}
