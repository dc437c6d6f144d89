/** The report's readers and orderings, on small hand-made inputs (no browser, no model). */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { headlineMetric, methodRows, parseRankings, readEvalData } from '../../pipeline/report/eval-data.ts';
import { orderQueries } from '../../pipeline/report/eval-section.ts';
import { spreadSample } from '../../pipeline/report/run-data.ts';
import { trainingCharts } from '../../pipeline/report/run-sections.ts';
import { lossPlotSvg } from '../../stages/phi/plot.ts';
import { writeReport } from '../../pipeline/report/write-report.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../helpers/test-utils.ts';

test('spreadSample takes every row of a small run and evenly spaced rows of a large one', (t) => {
  t.deepEqual([...spreadSample(3, 10)], [0, 1, 2]);
  t.deepEqual([...spreadSample(100, 4)], [0, 25, 50, 75]);
  t.is(spreadSample(100_000, 300).size, 300);
});

test('methodRows reads one report, an array, and a methods table with a reason row', (t) => {
  const one = { dataset: 'circo', split: 'val', method: 'searle', queries: 3, metrics: { 'mAP@5': 12.5 } };
  t.deepEqual(methodRows(one).map((r) => [r.method, r.metrics['mAP@5']]), [['searle', 12.5]]);
  t.deepEqual(methodRows([one, { ...one, method: 'searle', label: 'searle-oti' }]).map((r) => r.method), ['searle', 'searle-oti']);
  const table = { methods: [{ method: 'captioning', reason: 'no endpoint configured', metrics: {} }, { method: 'image', metrics: { 'mAP@5': 1 } }] };
  const rows = methodRows(table);
  t.is(rows[0].reason, 'no endpoint configured');
  t.deepEqual(rows[1].metrics, { 'mAP@5': 1 });
  t.deepEqual(methodRows({ unrelated: true }), []);
  t.is(headlineMetric(rows), 'mAP@5');
  t.is(headlineMetric([{ method: 'a', metrics: { 'R@5': 1, 'R@1': 2 } }]), 'R@1');
});

test('readEvalData finds the table and the rankings in a folder; bad lines are one-line errors naming the file', (t) => {
  const dir = tempDir('evaldata');
  writeFileSync(join(dir, 'eval.json'), JSON.stringify([{ method: 'image', metrics: { 'mAP@5': 3 } }]));
  writeFileSync(join(dir, 'rankings.jsonl'), `${JSON.stringify({ method: 'image', query: '1', reference: 'a', captions: ['is red'], gts: ['b'], top: [{ id: 'b', score: 0.5 }] })}\n`);
  const e = readEvalData(dir);
  t.is(e.methods.length, 1);
  t.is(e.rankings[0].top[0].id, 'b');
  // a table file alone: its rankings are found beside it
  t.is(readEvalData(join(dir, 'eval.json')).rankings.length, 1);
  const err = t.throws(() => parseRankings('{"method":"x"}\n', 'r.jsonl'), { instanceOf: UserError });
  t.regex(err!.message, /^r\.jsonl line 1: /);
  const empty = tempDir('evaldata');
  t.throws(() => readEvalData(empty), { instanceOf: UserError, message: /no evaluation table/ });
  t.throws(() => readEvalData(join(empty, 'nope.json')), { instanceOf: UserError, message: /no such file/ });
});

test('orderQueries puts the best method\'s misses first and keeps every method of a query together', (t) => {
  const line = (method: string, query: string, top: string[], gts: string[]) => ({ method, query, reference: `r${query}`, captions: ['c'], gts, top: top.map((id) => ({ id, score: 1 })) });
  const rankings = [
    line('best', '1', ['x', 'gt1'], ['gt1']), line('other', '1', ['x'], ['gt1']),
    line('best', '2', ['x', 'y'], ['gt2']), line('other', '2', ['gt2'], ['gt2']),
    line('best', '3', ['gt3'], ['gt3']), line('other', '3', ['z'], ['gt3']),
  ];
  const q = orderQueries(rankings, 'best', 10);
  t.deepEqual(q.map((x) => [x.query, x.bestMisses]), [['2', true], ['1', false], ['3', false]]);
  t.deepEqual(q[0].lines.map((l) => l.method), ['best', 'other']);
  t.is(orderQueries(rankings, 'best', 2).length, 2);
});

test('training charts: train_X and val_X share a chart, columns added later get their own', (t) => {
  const rows = [0, 1, 2].map((e) => ({ epoch: e, steps: e * 2, train_distil: 3 - e, val_distil: 3.5 - e, val_recall_at_10: 10 * e, seconds: 1 }));
  const charts = trainingCharts({ name: 'phi', columns: Object.keys(rows[0]), rows });
  t.is(charts.length, 2);
  t.regex(charts[0], /train_distil/);
  t.regex(charts[0], /val_distil/);
  t.regex(charts[1], /val_recall_at_10/);
});

test('phi\'s loss plot is three panels of the one chart module, train and held-out curves', (t) => {
  const rows = [0, 1, 2, 3].map((epoch) => ({ epoch, steps: epoch, trainDistil: epoch ? 4 - epoch : NaN, trainGpt: epoch ? 1 - epoch / 10 : NaN, trainTotal: 0,
    valDistil: 4.2 - epoch, valGpt: 0.9, valTotal: 0, valCosine: epoch / 10, seconds: 0.1 }));
  const svg = lossPlotSvg(rows);
  t.regex(svg, /^<svg[^>]+width="1020"/);
  t.is((svg.match(/<g transform="translate\(/g) ?? []).length, 3);
  // epoch 0 has no train loss: the train curves start at epoch 1 (3 points), held-out at 0 (4 points)
  const polylines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1].split(' ').length);
  t.deepEqual(polylines, [3, 4, 3, 4, 4]);
  for (const title of ['L_distil (NT-Xent)', 'L_gpt', 'cos(phi(x), OTI token), held-out']) t.true(svg.includes(title));
});

test('report refuses a folder that is not a run, and --eval without a table or rankings, in one line', async (t) => {
  const dir = tempDir('report-bad');
  await t.throwsAsync(writeReport({ run: join(dir, 'nope'), out: join(dir, 'out') }), { instanceOf: UserError, message: /nope: not a folder/ });
  await t.throwsAsync(writeReport({ run: dir, out: join(dir, 'out') }), { instanceOf: UserError, message: /neither a run folder/ });
});
