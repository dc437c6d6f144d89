import test from 'ava';
import { join } from 'node:path';
import { loadCirr, parseCirr } from '../../stages/evaluate/cirr.ts';
import { evaluate } from '../../stages/evaluate/run-evaluate.ts';
import { PartsGallery } from '../../stages/retrieve/gallery.ts';
import { fixtures, near, tableTokens, tempDir, tokenEchoEncoder, writeOneHotIndex } from './_index.ts';

const cirrDir = join(fixtures, 'cirr');
// Index: the 8 val images a..h as starword ids (relative paths), plus one train image the split file
// does not list; spread over 3 parts. Annotations name images "a".."h" (matched by file stem).
const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const ids = [...names.map((n) => `dev/${n}.png`), 'train/train-x.png'];
// Query = reference's token = a score per index image, in index order a b c d e f g h train-x.
const tokens = tableTokens({
  'dev/a.png': [9, 8, 7, 6, 5, 4, 3, 2, 0],
  'dev/b.png': [1, 5, 1, 1, 1, 1, 9, 9, 0],
  'dev/c.png': [1, 1, 1, 1, 1, 1, 1, 1, 0],
  'dev/d.png': [0, 0, 0, 10, 9, 0, 0, 0, 20],
});

test('parser: fields of cap.rc2, split file as the gallery, test split without targets', (t) => {
  const ann = loadCirr(cirrDir, 'val');
  t.is(ann.queries.length, 4);
  t.deepEqual(ann.queries[0], { id: '101', reference: 'a', captions: ['has two dogs'], targets: ['c'], subset: ['a', 'b', 'c', 'd', 'e', 'f'], group: '' });
  t.deepEqual(ann.galleries.get(''), [...names, 'i']);
  const test1 = loadCirr(join(cirrDir, 'captions', 'cap.rc2.test1.json'));
  t.deepEqual(test1.queries[0].targets, []);
  t.is(loadCirr(cirrDir, 'test').split, 'test1');
  t.throws(() => parseCirr([{ pairid: 1, reference: 'a', caption: 'x' }], 'f.json'), { message: 'f.json entry 0: img_set.members should be an array of image names' });
  t.throws(() => loadCirr(join(cirrDir, 'nowhere')), { message: /no CIRR val captions/ });
});

test('metrics worked by hand: Recall@k, Recall_subset@k, a tie, a missing target, reference exclusion', async (t) => {
  const { dir, cleanup } = await tempDir('starword-cirr-');
  t.teardown(cleanup);
  await writeOneHotIndex(dir, ids, [4, 3, 2]);
  const ann = loadCirr(cirrDir, 'val');
  const run = (excludeReference: boolean) => evaluate(ann, new PartsGallery(dir), {
    method: 'searle', text: tokenEchoEncoder(9), tokens, excludeReference, blockRows: 2,
  });

  const r = await run(true);
  // SEARLE's validate.py excludes the reference on CIRR: the default
  const byDefault = await evaluate(ann, new PartsGallery(dir), { method: 'searle', text: tokenEchoEncoder(9), tokens, blockRows: 2 });
  t.true(byDefault.excludeReference);
  t.deepEqual(byDefault.metrics, r.metrics);
  /*
   * Reference excluded; train-x (20 in 104) is outside the split's gallery and never ranks.
   * 101 ref a → b8 c7 d6 e5 f4 g3 h2: target c at 2.         subset b..f → c at 2.
   * 102 ref b → g9 h9 (tie: g first, gallery order) a c d e f g: target h at 2.  subset h a c d e → h at 1.
   * 103 target zzz not in the gallery: a miss everywhere.
   * 104 ref d (10) excluded → e9 first: target e at 1.       subset e a b c f → e at 1.
   * R@1 = 1/4 = 25; R@5 = R@10 = R@50 = 3/4 = 75.
   * Rsubset@1 = (0+1+0+1)/4 = 50; Rsubset@2 = Rsubset@3 = 3/4 = 75.
   */
  t.deepEqual(r.metrics, { 'R@1': 25, 'R@5': 75, 'R@10': 75, 'R@50': 75, 'Rsubset@1': 50, 'Rsubset@2': 75, 'Rsubset@3': 75 });
  t.deepEqual(r.missingTargets, ['103']);
  t.deepEqual(r.unanswerable, []);
  t.is(r.missingGalleryImages, 1); // "i" is listed in the split but not indexed
  t.deepEqual(r.gallery, { '': 8 });
  t.true(near(r.curves[0].values[0], 25) && near(r.curves[0].values[49], 75));

  const kept = await run(false);
  /*
   * Reference kept: 101 → a9 first, c at 3; 102 → g9 h9 b5: h at 2; 104 → d10 e9: e at 2.
   * R@1 = 0; R@5 = 75. The subset never holds the reference: Rsubset unchanged.
   */
  t.is(kept.metrics['R@1'], 0);
  t.is(kept.metrics['R@5'], 75);
  t.is(kept.metrics['Rsubset@1'], 50);
});

test('a reference without a token is unanswerable and a miss', async (t) => {
  const { dir, cleanup } = await tempDir('starword-cirr-');
  t.teardown(cleanup);
  await writeOneHotIndex(dir, ids, [9]);
  const ann = loadCirr(cirrDir, 'val');
  const r = await evaluate(ann, new PartsGallery(dir), { method: 'searle', text: tokenEchoEncoder(9), tokens: tableTokens({ 'dev/d.png': [0, 0, 0, 10, 9, 0, 0, 0, 20] }) });
  // only 104 can be formed (target e at 1): every recall is 1/4
  t.is(r.metrics['R@1'], 25);
  t.is(r.metrics['Rsubset@3'], 25);
  t.deepEqual(r.unanswerable, ['101', '102', '103']);
});

test('a test split (no targets) is refused with a one-line reason', async (t) => {
  const { dir, cleanup } = await tempDir('starword-cirr-');
  t.teardown(cleanup);
  await writeOneHotIndex(dir, ids, [9]);
  const ann = loadCirr(cirrDir, 'test');
  await t.throwsAsync(evaluate(ann, new PartsGallery(dir), { method: 'image' }), { message: /^test1 has no public ground truth; use `starword submission`$/ });
});
