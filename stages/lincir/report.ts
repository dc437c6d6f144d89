/** Writes LinCIR's metrics (Arrow) and its loss plot (SVG and PNG) into the output folder. */
import { writeTrainingReport } from '../../clip/training/metrics-report.ts';
import * as metricsSchema from '../../schemas/lincir-metrics.ts';
import { chartsRowSvg, lineChartSvg } from '../../util/svg-charts.ts';

export { METRICS_FILE, PLOT_PNG, PLOT_SVG } from '../../clip/training/metrics-report.ts';

export function lossPlotSvg(rows: readonly metricsSchema.LincirMetricsRow[]): string {
  const x = rows.map((r) => r.steps);
  return chartsRowSvg([
    lineChartSvg({ title: 'MSE(text(masked with φ), text(phrase))', xLabel: 'step', x, series: [
      { name: 'train', values: rows.map((r) => r.trainLoss) }, { name: 'held-out', values: rows.map((r) => r.valLoss) },
    ] }),
    lineChartSvg({ title: 'cosine, held-out', xLabel: 'step', x, series: [{ name: 'held-out', values: rows.map((r) => r.valCosine) }] }),
  ]);
}

export function writeMetricsReport(outDir: string, rows: readonly metricsSchema.LincirMetricsRow[], metadata: Record<string, string> = {}): Promise<void> {
  return writeTrainingReport(outDir, metricsSchema.toTable(rows, metadata), lossPlotSvg(rows));
}
