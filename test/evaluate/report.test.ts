import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { curvesSvg, writeCurvesFiles } from '../../stages/evaluate/report.ts';
import type { EvaluationReport } from '../../stages/evaluate/run-evaluate.ts';
import { TABLE_KIND, buildTable, formatTableCsv, formatTableMarkdown, formatTableText, tableColumns, writeTableFiles } from '../../stages/evaluate/table.ts';
import { tempDir } from './_index.ts';

const report = (dataset: string, method: string, metrics: Record<string, number>, extra: Partial<EvaluationReport> = {}): EvaluationReport => ({
  dataset, split: 'val', method, queries: 4, gallery: { '': 8 }, metrics,
  curves: [{ label: 'Recall@k', k: [1, 2, 3], values: [10, 60, 75] }], excludeReference: true,
  missingTargets: [], unanswerable: [], missingGalleryImages: 0, sources: [], seconds: { features: 0, rank: 0, total: 0 }, ...extra,
});

test('columns follow the talk: CIRR R@K and Rsubset@K, CIRCO mAP@K, FashionIQ per category then the average', (t) => {
  t.deepEqual(tableColumns('cirr', []), ['R@1', 'R@5', 'R@10', 'R@50', 'Rsubset@1', 'Rsubset@2', 'Rsubset@3']);
  t.deepEqual(tableColumns('circo', []), ['mAP@5', 'mAP@10', 'mAP@25', 'mAP@50']);
  const fiq = report('fashioniq', 'image', { 'toptee R@10': 1, 'toptee R@50': 2, 'dress R@10': 3, 'dress R@50': 4, 'average R@10': 2, 'average R@50': 3 });
  t.deepEqual(tableColumns('fashioniq', [fiq]), ['dress R@10', 'dress R@50', 'toptee R@10', 'toptee R@50', 'average R@10', 'average R@50']);
});

test('text, Markdown and CSV: a row per method, two decimals, a skipped row keeps its reason', (t) => {
  const table = buildTable('circo', 'val', true, [
    { method: 'image', report: report('circo', 'image', { 'mAP@5': 3, 'mAP@10': 3.5, 'mAP@25': 4, 'mAP@50': 4.25, 'R@5': 9 }) },
    { method: 'pic2word', reason: 'no Pic2Word tokens: give --pic2word-tokens PATH' },
    { method: 'cirevl', report: report('circo', 'cirevl', { 'mAP@5': 50, 'mAP@10': 51, 'mAP@25': 52, 'mAP@50': 53.125 },
      { unanswerable: ['7'], failures: { 7: 'caption failed: HTTP 500: internal error (after 3 attempts)' } }), notes: ['captions: 3 requested'] },
  ]);
  t.is(table.kind, TABLE_KIND);
  const lines = formatTableText(table).trimEnd().split('\n');
  t.deepEqual(lines.map((l) => l.split(/\s{2,}/)), [
    ['circo val', 'mAP@5', 'mAP@10', 'mAP@25', 'mAP@50'],
    ['---------', '-----', '------', '------', '------'],
    ['image', '3.00', '3.50', '4.00', '4.25'],
    ['pic2word', '(not run: no Pic2Word tokens: give --pic2word-tokens PATH)'],
    ['cirevl', '50.00', '51.00', '52.00', '53.13', '(1 of 4 queries unanswerable)'],
  ]);
  t.deepEqual(table.rows[2].failures, { 7: 'caption failed: HTTP 500: internal error (after 3 attempts)' });
  t.deepEqual(table.rows[0].metrics, { 'mAP@5': 3, 'mAP@10': 3.5, 'mAP@25': 4, 'mAP@50': 4.25 }, 'only the talk\'s columns');
  const md = formatTableMarkdown(table).trimEnd().split('\n');
  t.is(md[0], '| circo val | mAP@5 | mAP@10 | mAP@25 | mAP@50 | note |');
  t.is(md[3], '| pic2word | - | - | - | - | not run: no Pic2Word tokens: give --pic2word-tokens PATH |');
  const csv = formatTableCsv(buildTable('circo', 'val', true, [{ method: 'captioning', reason: 'refused: "x", y' }])).split('\r\n');
  t.is(csv[0], 'method,status,mAP@5,mAP@10,mAP@25,mAP@50,queries,unanswerable,note');
  t.is(csv[1], 'captioning,skipped,,,,,,,"refused: ""x"", y"');
});

test('bar chart and curves: SVG rendered to PNG; the JSON is the table', async (t) => {
  const { dir, cleanup } = await tempDir('starword-report-');
  t.teardown(cleanup);
  const table = buildTable('cirr', 'val', true, [
    { method: 'image', report: report('cirr', 'image', { 'R@1': 25, 'R@5': 50 }) },
    { method: 'text', report: report('cirr', 'text', { 'R@1': 12.5 }) },
    { method: 'searle', reason: 'no tokens' },
  ]);
  const paths = await writeTableFiles(join(dir, 'sub', 'cirr'), table);
  const svg = await readFile(paths.svg, 'utf8');
  t.is(svg.match(/<rect x=/g)?.length, 3 + 2, 'three bars (text has no R@5) and two legend swatches');
  t.true(svg.includes('not run: searle'));
  t.is((await sharp(paths.png).metadata()).format, 'png');
  t.deepEqual(JSON.parse(await readFile(paths.json, 'utf8')).rows[0].metrics, { 'R@1': 25, 'R@5': 50 });

  // curves sampled at different k: x is their union, a missing point is a gap, not a line to zero
  const c = curvesSvg('t <&>', [{ label: 'a', k: [1, 2, 3], values: [0, 50, 60] }, { label: 'b', k: [1, 3], values: [10, 20] }]);
  t.is(c.match(/<polyline/g)?.length, 1, 'b has no two neighbouring points');
  t.is(c.match(/<circle/g)?.length, 5);
  t.true(c.includes('t &lt;&amp;&gt;'));
  const curves = await writeCurvesFiles(join(dir, 'cirr-curves'), table.reports);
  const meta = await sharp(curves.png).metadata();
  t.deepEqual([meta.format, meta.width, meta.height], ['png', 720, 440]);
});
