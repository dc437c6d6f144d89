/** Writes Pic2Word's per-epoch metrics (Arrow) and the loss plot (SVG and PNG) into the output folder. */
import { writeTrainingReport } from '../../clip/training/metrics-report.ts';
import * as metricsSchema from '../../schemas/pic2word-metrics.ts';
import { chartsRowSvg, lineChartSvg } from '../../util/svg-charts.ts';

export { METRICS_FILE, PLOT_PNG, PLOT_SVG } from '../../clip/training/metrics-report.ts';

export function lossPlotSvg(rows: readonly metricsSchema.Pic2WordMetricsRow[]): string {
  const x = rows.map((r) => r.epoch);
  return chartsRowSvg([
    lineChartSvg({ title: 'contrastive loss', xLabel: 'epoch', x, series: [
      { name: 'train', values: rows.map((r) => r.trainLoss) }, { name: 'held-out', values: rows.map((r) => r.valLoss) },
    ] }),
    lineChartSvg({ title: 'cos(image, text(a photo of $)), held-out', xLabel: 'epoch', x, series: [{ name: 'held-out', values: rows.map((r) => r.valCosine) }] }),
  ]);
}

export function writeMetricsReport(outDir: string, rows: readonly metricsSchema.Pic2WordMetricsRow[], metadata: Record<string, string> = {}): Promise<void> {
  return writeTrainingReport(outDir, metricsSchema.toTable(rows, metadata), lossPlotSvg(rows));
}
