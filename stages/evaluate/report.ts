/**
 * The metric curves of an evaluation (each metric against k) as a line chart, through the project's one
 * chart module (util/svg-charts.ts), written as SVG and PNG. The side-by-side table of methods is
 * table.ts.
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomicAsync } from '../../util/atomic-write.ts';
import { dirname } from 'node:path';
import { lineChartSvg, svgToPng } from '../../util/svg-charts.ts';
import type { Curve } from './metrics.ts';
import type { EvaluationReport } from './run-evaluate.ts';

/** A line chart of the curves (percent against k); curves sampled at different k leave gaps, not lines. */
export function curvesSvg(title: string, curves: readonly Curve[], width = 720, height = 440): string {
  const x = [...new Set(curves.flatMap((c) => c.k))].sort((a, b) => a - b);
  const series = curves.map((c) => {
    const at = new Map(c.k.map((k, i) => [k, c.values[i]]));
    return { name: c.label, values: x.map((k) => at.get(k) ?? Number.NaN) };
  });
  return lineChartSvg({ title, x, series, xLabel: 'k', yLabel: '%', width, height });
}

/** The curves of several reports, labelled by method when there is more than one. */
export function reportCurves(reports: readonly EvaluationReport[]): Curve[] {
  return reports.flatMap((r) => r.curves.map((c) => ({ ...c, label: reports.length > 1 ? `${r.method}: ${c.label}` : c.label })));
}

/** Writes `<base>.svg` and `<base>.png`: the curves of every report. Returns the paths. */
export async function writeCurvesFiles(base: string, reports: readonly EvaluationReport[]): Promise<{ svg: string; png: string }> {
  const paths = { svg: `${base}.svg`, png: `${base}.png` };
  await mkdir(dirname(paths.svg), { recursive: true });
  const r0 = reports[0];
  const svg = curvesSvg(`${r0.dataset} ${r0.split}: ${reports.map((r) => r.method).join(', ')}`, reportCurves(reports));
  await writeFileAtomicAsync(paths.svg, svg);
  await writeFileAtomicAsync(paths.png, await svgToPng(svg));
  return paths;
}
