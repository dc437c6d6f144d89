/** Test-split submissions: rankings worked by hand on one-hot galleries, and the servers' layouts. */
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCirco } from '../../stages/evaluate/circo.ts';
import { loadCirr } from '../../stages/evaluate/cirr.ts';
import { circoSubmissionSchema, cirrSubmissionSchema, firstProblem } from '../../stages/evaluate/submission-format.ts';
import { pythonSortedJson, rankForSubmission, submissionObjects } from '../../stages/evaluate/submission.ts';
import { PartsGallery } from '../../stages/retrieve/gallery.ts';
import { tableTokens, tempDir, tokenEchoEncoder, writeOneHotIndex } from './_index.ts';

const N = 60;
const g = (i: number) => `g${String(i).padStart(2, '0')}`;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);

test('CIRR test1: top 50 without the reference, subset top 3, pairids as keys, version and metric', async (t) => {
  const { dir, cleanup } = await tempDir('starword-sub-');
  t.teardown(cleanup);
  const root = join(dir, 'cirr');
  mkdirSync(join(root, 'captions'), { recursive: true });
  mkdirSync(join(root, 'image_splits'), { recursive: true });
  writeFileSync(join(root, 'captions', 'cap.rc2.test1.json'), JSON.stringify([
    { pairid: 12, reference: g(0), caption: 'is bigger', img_set: { id: 1, members: [g(0), g(5), g(3), g(10), g(59), g(2)] } },
    { pairid: 3, reference: g(10), caption: 'is smaller', img_set: { id: 2, members: [g(10), g(0), g(1), g(2), g(20), g(30)] } },
  ]));
  writeFileSync(join(root, 'image_splits', 'split.rc2.test1.json'), JSON.stringify(Object.fromEntries(range(0, N - 1).map((i) => [g(i), `./test1/${g(i)}.png`]))));
  // the index: the 60 test1 images plus one image the split does not list (it must never rank)
  const ids = [...range(0, N - 1).map((i) => `test1/${g(i)}.png`), 'train/x.png'];
  const idx = join(dir, 'idx');
  await writeOneHotIndex(idx, ids, [25, 36]);
  const tokens = tableTokens({
    'test1/g00.png': [...range(0, N - 1).map((i) => N - i), 100], // descending: g00 g01 …
    'test1/g10.png': [...range(0, N - 1).map((i) => i + 1), 100], // ascending: g59 g58 …
  });
  const ann = loadCirr(root, 'test');
  const r = await rankForSubmission(ann, new PartsGallery(idx), { method: 'searle', text: tokenEchoEncoder(N + 1), tokens, blockRows: 7 });
  /*
   * 12: g00 excluded → g01 … g50;  subset g05 g03 g10 g59 g02 by score → g02 g03 g05.
   *  3: g10 excluded → g59 … g11 (49), then g09;  subset g00 g01 g02 g20 g30 → g30 g20 g02.
   */
  t.deepEqual(r.recall.get('12'), range(1, 50).map(g));
  t.deepEqual(r.recall.get('3'), [...range(11, 59).reverse().map(g), g(9)]);
  t.deepEqual(r.subset?.get('12'), [g(2), g(3), g(5)]);
  t.deepEqual(r.subset?.get('3'), [g(30), g(20), g(2)]);
  t.is(r.gallerySize, N);

  const objs = submissionObjects(r);
  const text = pythonSortedJson(objs.recall);
  t.true(text.startsWith('{"12": ["g01", "g02", '));
  // json.dump(sort_keys=True): keys as strings in code-point order (JSON.parse would reorder integer keys)
  t.deepEqual([...text.matchAll(/"([^"]+)": /g)].map((m) => m[1]), ['12', '3', 'metric', 'version']);
  t.deepEqual(JSON.parse(pythonSortedJson(objs.subset!)), { version: 'rc2', metric: 'recall_subset', 12: [g(2), g(3), g(5)], 3: [g(30), g(20), g(2)] });
  t.is(firstProblem(cirrSubmissionSchema('recall', ['12', '3']), objs.recall), null);
  t.is(firstProblem(cirrSubmissionSchema('recall_subset', ['12', '3']), objs.subset), null);
  // what the server would refuse
  t.regex(firstProblem(cirrSubmissionSchema('recall', ['12', '3', '4']), objs.recall) ?? '', /pairid 4 is missing/);
  t.regex(firstProblem(cirrSubmissionSchema('recall_subset', ['12', '3']), objs.recall) ?? '', /metric must be "recall_subset"|at most 3/);
  t.regex(firstProblem(cirrSubmissionSchema('recall', ['12', '3']), { ...objs.recall, 12: [...range(0, 50).map(g)] }) ?? '', /at most 50/);
  t.regex(firstProblem(cirrSubmissionSchema('recall', ['12', '3']), { ...objs.recall, version: 'rc1' }) ?? '', /version must be "rc2"/);
});

test('CIRCO test: top 50 COCO ids with the reference kept, query ids 0 … n − 1', async (t) => {
  const { dir, cleanup } = await tempDir('starword-sub-');
  t.teardown(cleanup);
  const file = join(dir, 'test.json');
  writeFileSync(file, JSON.stringify([
    { reference_img_id: 1, relative_caption: 'a', shared_concept: 'x', id: 0 },
    { reference_img_id: 5, relative_caption: 'b', shared_concept: 'y', id: 1 },
  ]));
  const ids = range(1, N).map((i) => `unlabeled2017/${String(i).padStart(12, '0')}.jpg`);
  const idx = join(dir, 'idx');
  await writeOneHotIndex(idx, ids, [N]);
  const tokens = tableTokens({ [ids[0]]: range(1, N).map((i) => N - i), [ids[4]]: range(1, N).map((i) => i) });
  const r = await rankForSubmission(loadCirco(file, 'test'), new PartsGallery(idx), { method: 'searle', text: tokenEchoEncoder(N), tokens });
  // 0: reference 1 kept, first; 1: ascending, 60 … 11 (reference 5 is outside the top 50 anyway)
  t.deepEqual(r.recall.get('0'), range(1, 50).map(String));
  t.deepEqual(r.recall.get('1'), range(11, 60).reverse().map(String));
  t.is(r.subset, null);
  const { recall } = submissionObjects(r);
  t.is(firstProblem(circoSubmissionSchema(['0', '1']), recall), null);
  t.regex(firstProblem(circoSubmissionSchema(['0', '1']), { 0: recall['0'], 2: recall['1'] }) ?? '', /0, 1, …, n − 1|missing/);
  t.regex(firstProblem(circoSubmissionSchema(['0', '1']), { ...recall, 1: ['abc'] }) ?? '', /COCO integers/);
});
