import test from 'ava';
import { join } from 'node:path';
import { loadCirco, parseCirco } from '../../stages/evaluate/circo.ts';
import { averagePrecisionAt } from '../../stages/evaluate/metrics.ts';
import { evaluate } from '../../stages/evaluate/run-evaluate.ts';
import { PartsGallery } from '../../stages/retrieve/gallery.ts';
import { fixtures, near, tableTokens, tempDir, tokenEchoEncoder, writeOneHotIndex } from './_index.ts';

const circoDir = join(fixtures, 'circo');
// COCO ids 1..8 stored as the files starword indexes (leading zeros, folder, extension).
const ids = Array.from({ length: 8 }, (_, i) => `unlabeled2017/${String(i + 1).padStart(12, '0')}.jpg`);
const id = (n: number) => ids[n - 1];
// Scores per index image, in order 1..8.
const tokens = tableTokens({
  [id(1)]: [10, 9, 7, 8, 5, 6, 5.5, 0],
  [id(2)]: [0, 0, 0, 0, 0, 0, 5, 5],
  [id(3)]: [1, 1, 1, 1, 1, 1, 1, 1],
  [id(4)]: [0, 0, 0, 10, 9, 0, 0, 0],
});

test('parser: relative_caption, integer ids, ground truths with the target first; test split', (t) => {
  const ann = loadCirco(circoDir);
  t.deepEqual(ann.queries[0], { id: '0', reference: '1', captions: ['has more of them'], targets: ['2', '3', '5'], group: '' });
  t.deepEqual(loadCirco(circoDir, 'test').queries[0].targets, []);
  // SEARLE's padded form ('' entries) and a target listed later are normalised
  const q = parseCirco([{ id: 5, reference_img_id: 9, target_img_id: 4, caption: 'c', gt_img_ids: [3, 4, ''] }], 'x.json')[0];
  t.deepEqual(q.targets, ['4', '3']);
  t.throws(() => parseCirco([{ id: 1, reference_img_id: 2 }], 'x.json'), { message: "x.json entry 0: missing field 'caption'" });
});

test('AP@k as CIRCO defines it', (t) => {
  // hits at 1 and 3 of 3 ground truths: (1/1 + 2/3) / min(5, 3)
  t.true(near(averagePrecisionAt(['g1', 'x', 'g2', 'y', 'z'], ['g1', 'g2', 'g3'], 5), (1 + 2 / 3) / 3, 1e-12));
  // a ground truth absent from the gallery still counts in |GT|
  t.is(averagePrecisionAt(['x', 'g1'], ['g1', undefined], 5), 0.25);
  // k below |GT|: divide by k
  t.is(averagePrecisionAt(['g1', 'g2'], ['g1', 'g2', 'g3', 'g4'], 2), 1);
});

test('mAP@k and Recall@k worked by hand: ties, a missing target, reference exclusion', async (t) => {
  const { dir, cleanup } = await tempDir('starword-circo-');
  t.teardown(cleanup);
  await writeOneHotIndex(dir, ids, [3, 3, 2]);
  const ann = loadCirco(circoDir);
  const run = (excludeReference: boolean) => evaluate(ann, new PartsGallery(dir), {
    method: 'searle', text: tokenEchoEncoder(8), tokens, excludeReference, blockRows: 3,
  });
  const r = await run(true);
  /*
   * q0 ref 1 excluded → 2 4 3 6 7 5 8; GT {2,3,5} at ranks 1, 3, 6.
   *    AP@5 = (1/1 + 2/3)/3 = 0.555556;  AP@10 = AP@25 = AP@50 = (1 + 2/3 + 3/6)/3 = 0.722222.
   * q1 ref 2 → 7 8 (tie at 5: 7 first, gallery order) then 1 3 4 5 6; GT {8, 99 (not indexed)}:
   *    8 at rank 2: AP@k = (1/2)/min(k, 2) = 0.25 for every k.
   * q2 target 77 not indexed: AP 0.
   * q3 ref 4 (10) excluded → 5 first: AP = 1.
   * mAP@5 = (0.555556 + 0.25 + 0 + 1)/4 = 45.1389;  mAP@10/25/50 = (0.722222 + 0.25 + 0 + 1)/4 = 49.3056.
   * Recall of the target: q0 rank 1, q1 rank 2, q2 miss, q3 rank 1 → R@5 = R@10 = R@25 = R@50 = 75.
   */
  t.true(near(r.metrics['mAP@5'], 45.1389));
  for (const k of [10, 25, 50]) t.true(near(r.metrics[`mAP@${k}`], 49.3056), `mAP@${k} = ${r.metrics[`mAP@${k}`]}`);
  for (const k of [5, 10, 25, 50]) t.is(r.metrics[`R@${k}`], 75);
  t.deepEqual(r.missingTargets, ['2']);
  t.true(near(r.curves[0].values[4], 45.1389));

  const kept = await run(false);
  /*
   * Reference kept: q0 → 1 2 4 3 6 7 5 8, GT at 2, 4, 7: AP@5 = (1/2 + 2/4)/3 = 0.333333,
   *    AP@10 = (1/2 + 2/4 + 3/7)/3 = 0.476190.  q1 → 7 8 1 2 …: 8 at 2, 0.25.  q3 → 4 5: 5 at 2, 0.5.
   * mAP@5 = (0.333333 + 0.25 + 0 + 0.5)/4 = 27.0833;  mAP@10 = (0.476190 + 0.25 + 0 + 0.5)/4 = 30.6548.
   */
  t.true(near(kept.metrics['mAP@5'], 27.0833));
  t.true(near(kept.metrics['mAP@10'], 30.6548));

  // SEARLE's validate.py keeps the reference on CIRCO: the default is the kept protocol
  const byDefault = await evaluate(ann, new PartsGallery(dir), { method: 'searle', text: tokenEchoEncoder(8), tokens, blockRows: 3 });
  t.false(byDefault.excludeReference);
  t.deepEqual(byDefault.metrics, kept.metrics);
});
