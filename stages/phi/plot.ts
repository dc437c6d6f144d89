/**
 * The loss plot of phi training: three panels side by side (L_distil, L_gpt, held-out cosine; train and
 * held-out curves by epoch), drawn by the project's one chart module (util/svg-charts.ts).
 */
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';
import { chartsRowSvg, lineChartSvg } from '../../util/svg-charts.ts';

export function lossPlotSvg(rows: readonly PhiMetricsRow[]): string {
  const x = rows.map((r) => r.epoch);
  const pick = (k: keyof PhiMetricsRow) => rows.map((r) => r[k]);
  const panel = (title: string, series: { name: string; values: number[] }[]) =>
    lineChartSvg({ title, x, series, xLabel: 'epoch', width: 340, height: 270 });
  return chartsRowSvg([
    panel('L_distil (NT-Xent)', [{ name: 'train', values: pick('trainDistil') }, { name: 'held-out', values: pick('valDistil') }]),
    panel('L_gpt', [{ name: 'train', values: pick('trainGpt') }, { name: 'held-out', values: pick('valGpt') }]),
    panel('cos(phi(x), OTI token), held-out', [{ name: 'held-out', values: pick('valCosine') }]),
  ]);
}
