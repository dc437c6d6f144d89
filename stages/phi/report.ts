/** Writes phi's per-epoch metrics (Arrow) and the loss plot (SVG and PNG) into the output folder. */
import { writeTrainingReport } from '../../clip/training/metrics-report.ts';
import * as metricsSchema from '../../schemas/phi-metrics.ts';
import { lossPlotSvg } from './plot.ts';

export { METRICS_FILE, PLOT_PNG, PLOT_SVG } from '../../clip/training/metrics-report.ts';

export function writeMetricsReport(outDir: string, rows: readonly metricsSchema.PhiMetricsRow[], metadata: Record<string, string> = {}): Promise<void> {
  return writeTrainingReport(outDir, metricsSchema.toTable(rows, metadata), lossPlotSvg(rows));
}
