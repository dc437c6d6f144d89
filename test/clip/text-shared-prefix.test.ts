import test from 'ava';
import { createTextEncoder, prefixBatches } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { Rng } from '../../util/rng.ts';
import { TINY_MODEL_DIR, golden, relDiff, testCacheDir } from '../helpers/golden.ts';
import { forEachDevice } from '../helpers/devices.ts';

// The tiny golden model: SOT 998, EOT 999, vocabulary 1000 (fed ids, not text).
const SOT = 998, EOT = 999, DOLLAR = 259;

test('prefixBatches: runs share what their rows start with, never a row\'s EOT or pseudo $, by length inside a run', (t) => {
  const rows = [
    [SOT, 5, 6, 7, 10, EOT], // 0  ┐ "a photo of a …"
    [SOT, 5, 6, 7, 11, 12, EOT], // 1  │
    [SOT, 5, 6, 7, 13, EOT], // 2  ┘
    [SOT, 5, 6, DOLLAR, 9, EOT], // 3  pseudo row: shares at most its first 3 ids
    [SOT, 40, 41, EOT], // 4  shares only SOT with the others: its own run
    [SOT, EOT], // 5  EOT at 1: may share SOT alone
  ];
  const eots = rows.map((r) => r.length - 1);
  const limit = rows.map((r, i) => (i === 3 ? 3 : eots[i]));
  const batches = prefixBatches(rows, eots, limit, 2);
  const all = batches.flatMap((b) => b.rows).sort((a, b) => a - b);
  t.deepEqual(all, [0, 1, 2, 3, 4, 5], 'every row once');
  for (const b of batches) {
    t.true(b.rows.length <= 2, 'at most batchSize rows');
    t.true(b.shared >= 1);
    for (const i of b.rows) {
      t.true(b.shared <= limit[i], `row ${i}: shared ${b.shared} stays before its EOT / $`);
      t.deepEqual(rows[i].slice(0, b.shared), rows[b.rows[0]].slice(0, b.shared), `row ${i} starts with the batch's prefix`);
    }
  }
  // rows 0–3 form one run sharing SOT 5 6 (the $ row caps it at 3), cut into batches by length;
  // row 4 shares only SOT with them (a third of 3), so it starts its own run; so does row 5
  t.deepEqual(batches, [
    { rows: [0, 2], shared: 3 },
    { rows: [3, 1], shared: 3 },
    { rows: [4], shared: 3 },
    { rows: [5], shared: 1 },
  ]);
});

forEachDevice((deviceTest, device) => {
  deviceTest('shared-prefix batches give the features of each row encoded alone, pseudo-tokens included', async (t) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const enc = await createTextEncoder(model, { cacheDir: testCacheDir(), batchSize: 5, device });
    const g = golden();
    const rng = new Rng(7);
    const stems = [[SOT, 11, 12, 13], [SOT, 11, 12, 14, 15], [SOT, 20]];
    const ids: Int32Array[] = [];
    const pseudo: (Float32Array | null)[] = [];
    for (let i = 0; i < 30; i++) {
      const stem = stems[i % stems.length];
      const tail = Array.from({ length: 1 + rng.int(4) }, () => 1 + rng.int(900));
      const withDollar = i % 4 === 0;
      if (withDollar) tail.splice(rng.int(tail.length), 0, DOLLAR);
      ids.push(Int32Array.from([...stem, ...tail, EOT]));
      pseudo.push(withDollar ? Float32Array.from(g.oti.v0[0] as number[]) : null);
    }
    const together = await enc.encodeIds(ids, pseudo);
    for (let i = 0; i < ids.length; i++) {
      const [alone] = await enc.encodeIds([ids[i]], [pseudo[i]]);
      t.true(relDiff(together[i], alone) < 1e-5, `row ${i}`);
    }
    await enc.release?.();
  });
});
