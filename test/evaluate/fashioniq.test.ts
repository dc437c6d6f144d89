import test from 'ava';
import { join } from 'node:path';
import { loadFashionIq } from '../../stages/evaluate/fashioniq.ts';
import { evaluate } from '../../stages/evaluate/run-evaluate.ts';
import { PartsGallery } from '../../stages/retrieve/gallery.ts';
import { fixtures, near, tableTokens, tempDir, tokenEchoEncoder, writeOneHotIndex } from './_index.ts';

const fiqDir = join(fixtures, 'fashioniq');
// One index for both categories (dress d1..d12, shirt s1..s3), 15 images; each category ranks only
// against its image_splits list.
const dress = Array.from({ length: 12 }, (_, i) => `d${i + 1}`);
const shirt = ['s1', 's2', 's3'];
const ids = [...dress, ...shirt].map((n) => `images/${n}.jpg`);
const scores = (entries: Record<string, number>, rest = 0) => [...dress, ...shirt].map((n) => entries[n] ?? rest);
const tokens = tableTokens({
  'images/d1.jpg': scores({ d1: 20, s1: 10, s2: 10, s3: 10 }, 10), // every dress but d1 ties at 10
  'images/d2.jpg': scores({ d3: 5 }),
  'images/d4.jpg': scores({}),
  'images/s1.jpg': scores({ s1: 9, s2: 8, s3: 0 }, 8.5), // every dress outscores s2: only the category gallery saves it
  'images/s3.jpg': scores({ s3: 1 }),
});

test('parser: candidate, target, two captions per query; categories present; image splits per category', (t) => {
  const ann = loadFashionIq(fiqDir);
  t.is(ann.queries.length, 5);
  t.deepEqual(ann.queries[0], { id: 'dress/0', reference: 'd1', captions: ['is longer.', 'has a belt?'], targets: ['d12'], group: 'dress' });
  t.deepEqual([...ann.galleries.keys()], ['dress', 'shirt']);
  t.deepEqual(ann.galleries.get('shirt'), shirt);
  const one = loadFashionIq(join(fiqDir, 'captions', 'cap.shirt.val.json'));
  t.deepEqual(one.queries.map((q) => q.group), ['shirt', 'shirt']);
  t.deepEqual(one.galleries.get('shirt'), shirt);
  t.throws(() => loadFashionIq(fiqDir, 'test'), { message: /no FashionIQ captions/ });
});

test('Recall@10/50 per category and average, worked by hand', async (t) => {
  const { dir, cleanup } = await tempDir('starword-fiq-');
  t.teardown(cleanup);
  await writeOneHotIndex(dir, ids, [5, 5, 5]);
  const r = await evaluate(loadFashionIq(fiqDir), new PartsGallery(dir), {
    method: 'searle', text: tokenEchoEncoder(15), tokens, blockRows: 4, excludeReference: true,
  });
  // SEARLE's validate.py keeps the reference on FashionIQ: that is the default, exclusion is opt-in
  const byDefault = await evaluate(loadFashionIq(fiqDir), new PartsGallery(dir), { method: 'searle', text: tokenEchoEncoder(15), tokens, blockRows: 4 });
  t.false(byDefault.excludeReference);
  t.true(r.excludeReference);
  /*
   * dress (gallery d1..d12):
   *   d1 → d1 excluded; d2..d12 tie at 10, gallery order: target d12 at rank 11 → R@10 0, R@50 1.
   *   d2 → d3 (5) first → R@10 1, R@50 1.
   *   d4 → target d99 not indexed → miss.
   *   dress R@10 = 1/3 = 33.333, R@50 = 2/3 = 66.667.
   * shirt (gallery s1..s3; the dresses' 8.5 would push s2 to rank 13 in a shared gallery):
   *   s1 → s1 excluded, s2 first → 1, 1.
   *   s3 → target is the reference itself: not excluded, rank 1 → 1, 1.
   *   shirt R@10 = R@50 = 100.
   * average R@10 = (33.333 + 100)/2 = 66.667; average R@50 = (66.667 + 100)/2 = 83.333 (toptee absent).
   */
  t.true(near(r.metrics['dress R@10'], 33.3333));
  t.true(near(r.metrics['dress R@50'], 66.6667));
  t.is(r.metrics['shirt R@10'], 100);
  t.is(r.metrics['shirt R@50'], 100);
  t.true(near(r.metrics['average R@10'], 66.6667));
  t.true(near(r.metrics['average R@50'], 83.3333));
  t.deepEqual(r.missingTargets, ['dress/2']);
  t.deepEqual(r.gallery, { dress: 12, shirt: 3 });
  t.deepEqual(r.curves.map((c) => c.label), ['dress Recall@k', 'shirt Recall@k']);
  t.true(near(r.curves[0].values[9], 33.3333) && near(r.curves[0].values[10], 66.6667)); // d12 enters at k = 11
});
