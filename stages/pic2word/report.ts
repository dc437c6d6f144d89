/** Writes Pic2Word's per-epoch metrics (Arrow) and the loss plot (SVG and PNG) into the output folder. */
import { join } from 'node:path';
import { tableToIPC } from 'apache-arrow';
import * as metricsSchema from '../../schemas/pic2word-metrics.ts';
import { writeFileAtomic } from '../../schemas/part-io.ts';
import { chartsRowSvg, lineChartSvg, svgToPng } from '../../util/svg-charts.ts';

export const METRICS_FILE = 'metrics.arrow';
export const PLOT_SVG = 'losses.svg';
export const PLOT_PNG = 'losses.png';

export function lossPlotSvg(rows: readonly metricsSchema.Pic2WordMetricsRow[]): string {
  const x = rows.map((r) => r.epoch);
  return chartsRowSvg([
    lineChartSvg({ title: 'contrastive loss', xLabel: 'epoch', x, series: [
      { name: 'train', values: rows.map((r) => r.trainLoss) }, { name: 'held-out', values: rows.map((r) => r.valLoss) },
    ] }),
    lineChartSvg({ title: 'cos(image, text(a photo of $)), held-out', xLabel: 'epoch', x, series: [{ name: 'held-out', values: rows.map((r) => r.valCosine) }] }),
  ]);
}

export async function writeMetricsReport(outDir: string, rows: readonly metricsSchema.Pic2WordMetricsRow[], metadata: Record<string, string> = {}): Promise<void> {
  writeFileAtomic(join(outDir, METRICS_FILE), tableToIPC(metricsSchema.toTable(rows, metadata), 'stream'));
  const svg = lossPlotSvg(rows);
  writeFileAtomic(join(outDir, PLOT_SVG), svg);
  writeFileAtomic(join(outDir, PLOT_PNG), await svgToPng(svg));
}
