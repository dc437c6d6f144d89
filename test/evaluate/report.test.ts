import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { curvesSvg, formatTable, writeReportFiles } from '../../stages/evaluate/report.ts';
import type { EvaluationReport } from '../../stages/evaluate/run.ts';
import { tempDir } from './_index.ts';

const report = (method: 'searle' | 'image', r1: number): EvaluationReport => ({
  dataset: 'cirr', split: 'val', method, queries: 4, gallery: { '': 8 }, metrics: { 'R@1': r1, 'Rsubset@1': 50 },
  curves: [{ label: 'CIRR Recall@k', k: [1, 2, 3], values: [r1, 60, 75] }], excludeReference: true,
  missingTargets: ['103'], unanswerable: [], missingGalleryImages: 0, sources: [], seconds: { features: 0, rank: 0, total: 0 },
});

test('table: one column per method, two decimals, counts below', (t) => {
  const lines = formatTable([report('searle', 25), report('image', 12.5)]).trimEnd().split('\n');
  t.deepEqual(lines.map((l) => l.split(/\s{2,}/)), [
    ['cirr val', 'searle', 'image'],
    ['---------------', '------', '-----'],
    ['R@1', '25.00', '12.50'],
    ['Rsubset@1', '50.00', '50.00'],
    ['---------------', '------', '-----'],
    ['queries', '4', '4'],
    ['missing targets', '1', '1'],
    ['unanswerable', '0', '0'],
  ]);
});

test('plot: SVG with one line per curve, rendered to a PNG of the same size; JSON holds the report', async (t) => {
  const svg = curvesSvg('t <&>', [{ label: 'a', k: [1, 2], values: [0, 50] }, { label: 'b', k: [1, 2], values: [10, 20] }]);
  t.is(svg.match(/<polyline/g)?.length, 2);
  t.true(svg.includes('t &lt;&amp;&gt;'));
  const { dir, cleanup } = await tempDir('starword-report-');
  t.teardown(cleanup);
  const paths = await writeReportFiles(join(dir, 'sub', 'cirr'), [report('searle', 25)]);
  const meta = await sharp(paths.png).metadata();
  t.is(meta.format, 'png');
  t.is(meta.width, 720);
  t.is(meta.height, 440);
  t.deepEqual(JSON.parse(await readFile(paths.json, 'utf8')).metrics, { 'R@1': 25, 'Rsubset@1': 50 });
  t.true((await readFile(paths.svg, 'utf8')).startsWith('<svg'));
});
