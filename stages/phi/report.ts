/** Writes phi's per-epoch metrics (Arrow) and the loss plot (SVG and PNG) into the output folder. */
import { join } from 'node:path';
import { tableToIPC } from 'apache-arrow';
import * as metricsSchema from '../../schemas/phi-metrics.ts';
import { writeFileAtomic } from '../../schemas/part-io.ts';
import { svgToPng } from '../../util/svg-charts.ts';
import { lossPlotSvg } from './plot.ts';

export const METRICS_FILE = 'metrics.arrow';
export const PLOT_SVG = 'losses.svg';
export const PLOT_PNG = 'losses.png';

export async function writeMetricsReport(outDir: string, rows: readonly metricsSchema.PhiMetricsRow[], metadata: Record<string, string> = {}): Promise<void> {
  writeFileAtomic(join(outDir, METRICS_FILE), tableToIPC(metricsSchema.toTable(rows, metadata), 'stream'));
  const svg = lossPlotSvg(rows);
  writeFileAtomic(join(outDir, PLOT_SVG), svg);
  writeFileAtomic(join(outDir, PLOT_PNG), await svgToPng(svg));
}
