/**
 * The prefix cache under pressure: more distinct prefixes than its byte bound holds, with batches that
 * alone exceed it. Results must equal an unbounded cache's bit for bit (same graphs, same inputs) and
 * a cache-less session's to float tolerance, and the bound must hold between batches.
 */
import test from 'ava';
import { presetConfig } from '../../clip/weights/make-model.ts';
import { randomWeightSource } from '../../clip/weights/random-weights.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { Rng } from '../../util/rng.ts';
import { relDiff, testCacheDir } from '../helpers/golden.ts';

const cfg = presetConfig('tiny', { textWidth: 32, textHeads: 2, textMlp: 40, textLayers: 2, projectionDim: 16, vocab: 600,
  visionWidth: 16, visionLayers: 1, visionHeads: 2, visionMlp: 20 });

test('a byte-bounded prefix cache evicts, never what the batch uses, and stays exact', async (t) => {
  const src = randomWeightSource(cfg, 21);
  const cacheDir = testCacheDir();
  const { bos, eos, layers, width } = cfg.text;
  const perPosition = 2 * layers * width * 4; // keys + values, float32
  const bound = 5 * 3 * perPosition; // five 3-position prefixes
  const [small, large, plain] = await Promise.all([
    OtiSession.create(src, { cacheDir, threads: 1, prefixCache: true, prefixCacheBytes: bound }),
    OtiSession.create(src, { cacheDir, threads: 1, prefixCache: true, prefixCacheBytes: 2 ** 40 }),
    OtiSession.create(src, { cacheDir, threads: 1, prefixCache: false }),
  ]);
  const rng = new Rng(9);
  const B = 8, W = width, P = cfg.projectionDim;
  let maxRel = 0;
  try {
    for (let step = 0; step < 12; step++) {
      // 8 rows with `$` at position 3 (3-position prefixes); ids drawn from a small range so that some
      // prefixes repeat across steps (hits) while most are new (evictions)
      const row = (): number[] => [bos, 10 + rng.int(6), 10 + rng.int(6), 259, 20 + rng.int(50), eos];
      const input = {
        v: rng.fillNormal(new Float32Array(B * W), 0.3), image: rng.fillNormal(new Float32Array(B * P)), target: rng.fillNormal(new Float32Array(B * P)),
        templateIds: Array.from({ length: B }, row), phraseIds: Array.from({ length: B }, row), lambdaCos: 1, lambdaGpt: 0.5,
      };
      const [a, b, c] = [await small.step(input), await large.step(input), await plain.step(input)];
      t.deepEqual(Array.from(a.grad), Array.from(b.grad), `step ${step}: gradient equals the unbounded cache's bit for bit`);
      t.deepEqual([Array.from(a.lcos), Array.from(a.lgpt)], [Array.from(b.lcos), Array.from(b.lgpt)]);
      maxRel = Math.max(maxRel, relDiff(a.grad, c.grad));
      t.true(Math.abs(a.loss - c.loss) < 1e-6);
      t.true(small.prefixes!.bytes <= bound, `step ${step}: ${small.prefixes!.bytes} bytes held, bound ${bound}`);
    }
    t.log(`small cache: ${small.prefixes!.computed} computed, ${small.prefixes!.evicted} evicted; large: ${large.prefixes!.computed} computed`);
    t.true(maxRel < 1e-5, `max relative gradient difference to no cache ${maxRel}`);
    t.true(small.prefixes!.evicted > 20, 'the bound was hit many times');
    t.true(small.prefixes!.computed > large.prefixes!.computed, 'evicted prefixes were recomputed');
    t.is(large.prefixes!.evicted, 0);
  } finally {
    await Promise.all([small.release(), large.release(), plain.release()]);
  }
});

test('a zero bound still serves every batch (the batch is pinned, then let go)', async (t) => {
  const src = randomWeightSource(cfg, 22);
  const session = await OtiSession.create(src, { cacheDir: testCacheDir(), threads: 1, prefixCache: true, prefixCacheBytes: 0 });
  try {
    const { bos, eos } = cfg.text;
    const rng = new Rng(1);
    const B = 2;
    const out = await session.step({
      v: rng.fillNormal(new Float32Array(B * cfg.text.width), 0.3), image: rng.fillNormal(new Float32Array(B * cfg.projectionDim)),
      target: rng.fillNormal(new Float32Array(B * cfg.projectionDim)),
      templateIds: [[bos, 5, 259, eos], [bos, 6, 259, eos]], phraseIds: [[bos, 7, 8, 259, eos], [bos, 9, 8, 259, eos]], lambdaCos: 1, lambdaGpt: 0.5,
    });
    t.true(Number.isFinite(out.loss));
    t.is(session.prefixes!.bytes, 0);
    t.is(session.prefixes!.computed, 4);
  } finally {
    await session.release();
  }
});
