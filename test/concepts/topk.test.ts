import test from 'ava';
import { topKCosine } from '../../stages/concepts/topk.ts';
import { Rng } from '../../util/rng.ts';
import { bruteTopK, normalizedMatrix, randomVectors } from './_helpers.ts';

test('top-k agrees with brute-force cosine and a full sort on random data', (t) => {
  const rng = new Rng(7);
  for (const [V, dim, n, k] of [[1000, 24, 13, 50], [777, 64, 6, 250], [300, 7, 1, 300], [513, 16, 70, 5]]) {
    const vocab = normalizedMatrix(randomVectors(rng, V, dim), dim);
    const images = randomVectors(rng, n, dim);
    const tops = topKCosine(images, vocab, dim, k);
    t.is(tops.length, n);
    images.forEach((img, i) => {
      const ref = bruteTopK(img, vocab, dim, k);
      t.deepEqual(Array.from(tops[i].indices), ref.map((r) => r.i), `V=${V} image ${i}`);
      for (let j = 0; j < ref.length; j++) {
        if (Math.abs(tops[i].scores[j] - ref[j].s) > 1e-6) t.fail(`score ${j} ${tops[i].scores[j]} vs ${ref[j].s}`);
      }
      for (let j = 1; j < ref.length; j++) t.true(tops[i].scores[j - 1] >= tops[i].scores[j]);
    });
  }
});

test('ties go to the lower vocabulary index; k above the vocabulary size keeps all', (t) => {
  const dim = 4;
  // rows 1, 3 and 5 are the same vector: identical scores, so index order decides.
  const rows = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]];
  const vocab = new Float32Array(rows.flat());
  const [top] = topKCosine([new Float32Array([0.1, 2, 0.3, 0])], vocab, dim, 2);
  t.deepEqual(Array.from(top.indices), [1, 3]);
  const [all] = topKCosine([new Float32Array([0.1, 2, 0.3, 0])], vocab, dim, 99);
  t.deepEqual(Array.from(all.indices), [1, 3, 5, 2, 0, 4]);
  t.true(Math.abs(all.scores[0] - 2 / Math.hypot(0.1, 2, 0.3)) < 1e-7, 'cosine, no softmax');
  t.is(all.scores[5], 0);
});

test('scale of the image feature does not change the result; bad input is refused', (t) => {
  const rng = new Rng(3);
  const vocab = normalizedMatrix(randomVectors(rng, 50, 8), 8);
  const img = randomVectors(rng, 1, 8)[0];
  const scaled = img.map((x) => x * 1000);
  t.deepEqual(Array.from(topKCosine([img], vocab, 8, 10)[0].indices), Array.from(topKCosine([scaled], vocab, 8, 10)[0].indices));
  t.throws(() => topKCosine([new Float32Array(8)], vocab, 8, 5, ['zero']), { message: /image feature of zero is zero/ });
  t.throws(() => topKCosine([new Float32Array(7)], vocab, 8, 5), { message: /length 7/ });
  t.throws(() => topKCosine([img], vocab, 8, 0), { instanceOf: RangeError });
});
