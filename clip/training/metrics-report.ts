/** Writes a training run's per-epoch metrics (Arrow IPC stream) and its loss plot (SVG and PNG). */
import { join } from 'node:path';
import { type Table, tableToIPC } from 'apache-arrow';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { svgToPng } from '../../util/svg-charts.ts';

export const METRICS_FILE = 'metrics.arrow';
export const PLOT_SVG = 'losses.svg';
export const PLOT_PNG = 'losses.png';

export async function writeTrainingReport(outDir: string, table: Table, plotSvg: string): Promise<void> {
  writeFileAtomic(join(outDir, METRICS_FILE), Buffer.from(tableToIPC(table, 'stream')));
  writeFileAtomic(join(outDir, PLOT_SVG), plotSvg);
  writeFileAtomic(join(outDir, PLOT_PNG), Buffer.from(await svgToPng(plotSvg)));
}
