/** evaluate's per-query rankings (what `evaluate --rankings` writes): scores set by hand on a one-hot index. */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCirco } from '../../stages/evaluate/circo.ts';
import { RankingsCollector } from '../../stages/evaluate/rankings.ts';
import { evaluate } from '../../stages/evaluate/run-evaluate.ts';
import { PartsGallery } from '../../stages/retrieve/gallery.ts';
import { fixtures, tableTokens, tempDir, tokenEchoEncoder, writeOneHotIndex } from './_index.ts';

const ids = Array.from({ length: 8 }, (_, i) => `unlabeled2017/${String(i + 1).padStart(12, '0')}.jpg`);
const id = (n: number) => ids[n - 1];

test('each query\'s top k with scores, the reference named by its gallery id, ground truths resolved', async (t) => {
  const { dir, cleanup } = await tempDir('starword-rankings-');
  try {
    await writeOneHotIndex(dir, ids, [5, 3]);
    const ann = loadCirco(join(fixtures, 'circo'));
    const tokens = tableTokens({
      [id(1)]: [10, 9, 7, 8, 5, 6, 5.5, 0], [id(2)]: [0, 0, 0, 0, 0, 0, 5, 5], [id(3)]: [1, 1, 1, 1, 1, 1, 1, 1], [id(4)]: [0, 0, 0, 10, 9, 0, 0, 0],
    });
    const collector = new RankingsCollector('circo', 'val', dir, 3);
    // CIRCO keeps the reference by default (SEARLE's validate.py); these hand numbers exclude it
    await evaluate(ann, new PartsGallery(dir), { method: 'searle', text: tokenEchoEncoder(8), tokens, excludeReference: true, onRanked: collector.collect('searle-oti') });
    t.is(collector.lines.length, ann.queries.length);
    const first = collector.lines[0];
    // query 0: reference 1 (excluded from its ranking), ground truths 2, 3, 5; token row of image 1
    t.is(first.reference, id(1));
    t.deepEqual(first.gts, [id(2), id(3), id(5)]);
    t.deepEqual(first.top.map((h) => h.id), [id(2), id(4), id(3)]);
    const norm = Math.hypot(10, 9, 7, 8, 5, 6, 5.5, 0);
    t.true(Math.abs(first.top[0].score - 9 / norm) < 1e-6);
    t.is(first.method, 'searle-oti');
    t.is(first.index, dir);
    const file = join(dir, 'out', 'rankings.jsonl');
    await collector.write(file);
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    t.deepEqual(lines[0], JSON.parse(JSON.stringify(first)));
  } finally {
    await cleanup();
  }
});
