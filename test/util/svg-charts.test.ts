import test from 'ava';
import sharp from 'sharp';
import { barChartSvg, chartsRowSvg, histogramCounts, histogramSvg, lineChartSvg, niceTicks, svgToPng } from '../../util/svg-charts.ts';

test('niceTicks are round and cover the range', (t) => {
  t.deepEqual(niceTicks(0, 100), [0, 20, 40, 60, 80, 100]);
  t.deepEqual(niceTicks(0.12, 0.5, 4), [0.2, 0.3, 0.4, 0.5]);
  t.deepEqual(niceTicks(3, 3), [3]);
});

test('histogram counts every finite value once, the maximum in the last bin', (t) => {
  const { edges, counts } = histogramCounts([0, 0.1, 0.5, 0.99, 1, Number.NaN, Infinity], 4);
  t.deepEqual(counts, [2, 0, 1, 2]);
  t.is(edges.length, 5);
  t.is(edges[0], 0);
  t.is(edges[4], 1);
});

test('a line with a missing value is drawn as two runs, not through the gap', (t) => {
  const svg = lineChartSvg({ x: [1, 2, 3, 4, 5], series: [{ name: 'a', values: [1, 2, Number.NaN, 4, 5] }] });
  t.is(svg.match(/<polyline/g)?.length, 2);
  t.is(svg.match(/<circle/g)?.length, 4);
});

test('grouped bars: one rect per finite value, labels escaped, legend for several series', (t) => {
  const svg = barChartSvg({ title: 'R@10 <fashion>', categories: ['dress', 'shirt'], series: [{ name: 'image', values: [5, 7] }, { name: 'searle', values: [20, Number.NaN] }] });
  t.is(svg.match(/<rect x=[^/]*fill="#(1f77b4|d62728)"><title>/g)?.length, 3);
  t.true(svg.includes('R@10 &lt;fashion&gt;'));
  t.true(svg.includes('>searle</text>'));
});

test('charts render to PNG at their declared size, side by side too', async (t) => {
  const a = histogramSvg({ values: [1, 2, 2, 3], bins: 3, width: 200, height: 150 });
  const b = lineChartSvg({ x: [0, 1], series: [{ name: 'x', values: [0, 1] }], width: 300, height: 150 });
  const meta = await sharp(await svgToPng(chartsRowSvg([a, b]))).metadata();
  t.is(meta.width, 500);
  t.is(meta.height, 150);
});
