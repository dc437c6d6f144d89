import test from 'ava';
import { rm } from 'node:fs/promises';
import { writePart } from '../../schemas/part-io.ts';
import { vectorTable } from '../../stages/retrieve/arrow-columns.ts';
import { FilteredGallery, MemoryGallery, PartsGallery, collectRows } from '../../stages/retrieve/gallery.ts';
import { rankBruteForce, rankGallery } from '../../stages/retrieve/rank.ts';
import { TopK } from '../../stages/retrieve/topk-heap.ts';
import { Rng } from '../../util/rng.ts';
import { tempDir } from '../helpers/test-utils.ts';

function randomMatrix(rng: Rng, rows: number, dim: number, quantise = 0): Float32Array {
  const m = new Float32Array(rows * dim);
  rng.fillNormal(m);
  // Quantised values make exact score ties common, so the tie rule is exercised too.
  if (quantise > 0) for (let i = 0; i < m.length; i++) m[i] = Math.round(m[i] * quantise) / quantise;
  return m;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `img${i}`);

test('blocked ranking equals a brute-force stable full sort, for several block sizes, with exclusions', async (t) => {
  const rng = new Rng(7);
  const n = 523, dim = 19, nq = 37, k = 25;
  const gallery = randomMatrix(rng, n, dim, 1);
  const queries = Array.from({ length: nq }, () => randomMatrix(rng, 1, dim, 1));
  const gids = ids(n);
  const exclude = queries.map((_, i) => (i % 3 === 0 ? [`img${i * 7}`, `img${i * 7 + 1}`] : undefined));
  const expected = queries.map((q, i) => rankBruteForce(q, gids, gallery, dim, k, exclude[i] ?? []));
  // the data must really hold ties inside the top-k, or the tie rule goes untested
  const ties = expected.some((hits) => hits.some((h, j) => j > 0 && h.score === hits[j - 1].score));
  t.true(ties);
  for (const blockRows of [1, 7, 64, 100, 523, 4096]) {
    const { rankings, gallerySize } = await rankGallery(queries, new MemoryGallery(gids, gallery, dim), { k, blockRows, exclude, queryTile: 5 });
    t.is(gallerySize, n);
    rankings.forEach((r, i) => t.deepEqual(r.hits, expected[i], `block ${blockRows} query ${i}`));
  }
});

test('ties rank in gallery order; exclusions never appear; k larger than the gallery returns all', async (t) => {
  const dim = 2;
  // scores against q=(1,0): a 0.6, b 1, c 1, d 0.6, e 1 (b, c, e tie; a, d tie)
  const g = new Float32Array([0.6, 0.8, 1, 0, 1, 0, 0.6, -0.8, 1, 0]);
  const gal = new MemoryGallery(['a', 'b', 'c', 'd', 'e'], g, dim);
  const { rankings } = await rankGallery([new Float32Array([3, 0])], gal, { k: 10, blockRows: 2, exclude: [['c']] });
  t.deepEqual(rankings[0].hits.map((h) => h.id), ['b', 'e', 'a', 'd']);
  t.deepEqual(rankings[0].hits.map((h) => h.position), [1, 4, 0, 3]);
  t.true(Math.abs(rankings[0].hits[0].score - 1) < 1e-6);
});

test('watched ids get their scores whatever their rank; skipped queries get no hits', async (t) => {
  const g = new Float32Array([1, 0, 0, 1, -1, 0]);
  const gal = new MemoryGallery(['x', 'y', 'z'], g, 2);
  const { rankings } = await rankGallery([new Float32Array([1, 0]), new Float32Array([0, 1])], gal,
    { k: 1, watch: [['z', 'y'], ['x']], skip: [false, true] });
  t.deepEqual(rankings[0].hits.map((h) => h.id), ['x']);
  t.is(rankings[0].watched.get('z')?.score, -1);
  t.is(rankings[0].watched.get('y')?.score, 0);
  t.deepEqual(rankings[1].hits, []);
  t.is(rankings[1].watched.size, 0);
});

test('TopK keeps the k best under the tie rule for any insertion order', (t) => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 50; trial++) {
    const items = Array.from({ length: 40 }, (_, p) => ({ score: rng.int(6), position: p }));
    const h = new TopK(7);
    for (const it of rng.shuffle([...items])) h.push(it.score, it.position, `p${it.position}`);
    const want = [...items].sort((a, b) => b.score - a.score || a.position - b.position).slice(0, 7);
    t.deepEqual(h.sorted().map((e) => e.position), want.map((w) => w.position));
  }
});

test('a gallery spread over several Arrow parts ranks like the same gallery in memory, block by block', async (t) => {
  const dir = tempDir('rank');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const rng = new Rng(11);
  const dim = 16;
  const sizes = [130, 1, 77, 200];
  const n = sizes.reduce((a, b) => a + b, 0);
  const all = randomMatrix(rng, n, dim);
  const gids = ids(n);
  let start = 0;
  for (const [part, size] of sizes.entries()) {
    await writePart(dir, 'features', part, vectorTable(gids.slice(start, start + size), all.slice(start * dim, (start + size) * dim), dim), 1);
    start += size;
  }
  const queries = Array.from({ length: 9 }, () => randomMatrix(rng, 1, dim));
  const source = new PartsGallery(dir);
  // The blocks never exceed blockRows: the bound on what ranking holds of the gallery at once.
  let maxBlock = 0;
  let rows = 0;
  for await (const b of source.blocks(50)) { maxBlock = Math.max(maxBlock, b.ids.length); t.is(b.start, rows); rows += b.ids.length; }
  t.is(maxBlock, 50);
  t.is(rows, n);
  const { rankings } = await rankGallery(queries, source, { k: 30, blockRows: 50 });
  rankings.forEach((r, i) => t.deepEqual(r.hits, rankBruteForce(queries[i], gids, all, dim, 30)));
  const rowsOf = await collectRows(source, ['img0', 'img131', 'nope']);
  t.deepEqual([...rowsOf.keys()].sort(), ['img0', 'img131']);
  t.deepEqual(Array.from(rowsOf.get('img131')!), Array.from(all.subarray(131 * dim, 132 * dim)));
});

test('a filtered gallery renumbers positions in order and ranks only the kept rows', async (t) => {
  const g = new Float32Array([1, 0, 0.9, 0.1, 0.8, 0.2, 0.7, 0.3]);
  const gal = new FilteredGallery(new MemoryGallery(['a', 'b', 'c', 'd'], g, 2), (id) => id !== 'a' && id !== 'c');
  const { rankings, gallerySize } = await rankGallery([new Float32Array([1, 0])], gal, { k: 5, blockRows: 3 });
  t.is(gallerySize, 2);
  t.deepEqual(rankings[0].hits.map((h) => [h.id, h.position]), [['b', 0], ['d', 1]]);
});

test('a gallery of another dimension is a clear error', async (t) => {
  const gal = new MemoryGallery(['a'], new Float32Array([1, 0, 0]), 3);
  await t.throwsAsync(rankGallery([new Float32Array([1, 0])], gal, { k: 1 }), { message: /3 dims but the queries 2/ });
});
