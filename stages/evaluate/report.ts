/**
 * Presenting an evaluation: a text table (stdout), the full report as JSON, and a plot of the metric
 * curves against k as SVG, rendered to PNG with sharp (which rasterises SVG input).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import type { Curve } from './metrics.ts';
import type { EvaluationReport } from './run.ts';

/** Rows of `metric  value` for one or more reports side by side (one column per method). */
export function formatTable(reports: readonly EvaluationReport[]): string {
  if (reports.length === 0) return '';
  const names = [...new Set(reports.flatMap((r) => Object.keys(r.metrics)))];
  const head = [`${reports[0].dataset} ${reports[0].split}`, ...reports.map((r) => r.method)];
  const rows = names.map((n) => [n, ...reports.map((r) => (n in r.metrics ? r.metrics[n].toFixed(2) : '-'))]);
  const foot = [
    ['queries', ...reports.map((r) => String(r.queries))],
    ['missing targets', ...reports.map((r) => String(r.missingTargets.length))],
    ['unanswerable', ...reports.map((r) => String(r.unanswerable.length))],
  ];
  const all = [head, ...rows, ...foot];
  const widths = head.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(head), rule, ...rows.map(line), rule, ...foot.map(line)].join('\n') + '\n';
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** An SVG line plot of the curves (percent, 0–100, against k). Plain shapes and text only, so any SVG renderer draws it. */
export function curvesSvg(title: string, curves: readonly Curve[], width = 720, height = 440): string {
  const m = { l: 56, r: 180, t: 36, b: 44 };
  const pw = width - m.l - m.r, ph = height - m.t - m.b;
  const kMax = Math.max(1, ...curves.flatMap((c) => c.k));
  const vMax = Math.min(100, Math.max(10, Math.ceil(Math.max(0, ...curves.flatMap((c) => c.values)) / 10) * 10));
  const x = (k: number) => m.l + ((k - 1) / Math.max(kMax - 1, 1)) * pw;
  const y = (v: number) => m.t + ph - (v / vMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.l}" y="22" font-family="sans-serif" font-size="15" fill="#222">${esc(title)}</text>`);
  for (let v = 0; v <= vMax; v += vMax / 5) {
    out.push(`<line x1="${m.l}" y1="${y(v)}" x2="${m.l + pw}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end" font-family="sans-serif" font-size="11" fill="#444">${v.toFixed(0)}</text>`);
  }
  const ticks = [1, 5, 10, 20, 30, 40, 50].filter((k) => k <= kMax);
  for (const k of ticks) {
    out.push(`<text x="${x(k)}" y="${m.t + ph + 16}" text-anchor="middle" font-family="sans-serif" font-size="11" fill="#444">${k}</text>`);
  }
  out.push(`<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="#444"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" stroke="#444"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${height - 8}" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#222">k</text>`);
  out.push(`<text x="16" y="${m.t + ph / 2}" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#222" transform="rotate(-90 16 ${m.t + ph / 2})">%</text>`);
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = c.k.map((k, j) => `${x(k).toFixed(1)},${y(c.values[j]).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = m.t + 14 + i * 18;
    out.push(`<line x1="${m.l + pw + 12}" y1="${ly - 4}" x2="${m.l + pw + 32}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${m.l + pw + 38}" y="${ly}" font-family="sans-serif" font-size="11" fill="#222">${esc(c.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The curves of several reports, labelled by method when there is more than one. */
export function reportCurves(reports: readonly EvaluationReport[]): Curve[] {
  return reports.flatMap((r) => r.curves.map((c) => ({ ...c, label: reports.length > 1 ? `${r.method}: ${c.label}` : c.label })));
}

/**
 * Writes `<base>.json` (the reports), `<base>.svg` and `<base>.png` (the plot). Returns the paths.
 * `base` is the --out path without its .json extension.
 */
export async function writeReportFiles(base: string, reports: readonly EvaluationReport[]): Promise<{ json: string; svg: string; png: string }> {
  const paths = { json: `${base}.json`, svg: `${base}.svg`, png: `${base}.png` };
  await mkdir(dirname(paths.json), { recursive: true });
  const body = reports.length === 1 ? reports[0] : reports;
  await writeFile(paths.json, `${JSON.stringify(body, null, 2)}\n`);
  const r0 = reports[0];
  const svg = curvesSvg(`${r0.dataset} ${r0.split}: ${reports.map((r) => r.method).join(', ')}`, reportCurves(reports));
  await writeFile(paths.svg, svg);
  await sharp(Buffer.from(svg)).png().toFile(paths.png);
  return paths;
}
