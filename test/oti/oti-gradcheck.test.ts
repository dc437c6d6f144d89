/**
 * Finite-difference check of the OTI gradient on a random tiny model with other dims than the golden
 * one: an odd head count (3), MLP not 4×width, a token width that differs from the projection dim.
 */
import { presetConfig } from '../../clip/weights/make-model.ts';
import { randomWeightSource } from '../../clip/weights/random-weights.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { Rng } from '../../util/rng.ts';
import { relDiff, testCacheDir } from '../helpers/golden.ts';
import { forEachDevice } from '../helpers/devices.ts';

const cfg = presetConfig('tiny', { textWidth: 36, textHeads: 3, textMlp: 50, textLayers: 2, projectionDim: 20, vocab: 600,
  visionWidth: 16, visionLayers: 1, visionHeads: 2, visionMlp: 20 });

forEachDevice((deviceTest, device) => {
  deviceTest('gradient matches central finite differences along random directions', async (t) => {
    // larger weights than make-model's so the loss is far from flat and float32 differences are meaningful
    const base = randomWeightSource(cfg, 7);
    const src = { ...base, hash: `${base.hash}-x5`, tensor: (n: string) => { const a = base.tensor(n); return /norm|layrnorm/.test(n) ? a : a.map((x) => x * 5); } };
    const session = await OtiSession.create(src, { cacheDir: testCacheDir(), threads: 1, device });
    const rng = new Rng(3);
    const B = 3, W = cfg.text.width, P = cfg.projectionDim;
    const { bos, eos } = cfg.text;
    const input = {
      v: rng.fillNormal(new Float32Array(B * W), 0.5),
      image: rng.fillNormal(new Float32Array(B * P)),
      target: rng.fillNormal(new Float32Array(B * P)),
      // different lengths and `$` positions per row, so the cut and the mask both matter
      templateIds: [[bos, 5, 259, eos], [bos, 7, 8, 9, 259, 11, eos], [bos, 259, eos]],
      phraseIds: [[bos, 259, 20, 21, eos], [bos, 30, 31, 259, eos], [bos, 40, 41, 42, 43, 259, 44, 45, eos]],
      lambdaCos: 1, lambdaGpt: 0.5,
    };
    const at = async (v: Float32Array) => (await session.step({ ...input, v })).loss;
    const { grad } = await session.step(input);
    const eps = 2e-3;
    for (let k = 0; k < 4; k++) {
      const d = rng.fillNormal(new Float32Array(B * W));
      const plus = input.v.map((x, i) => x + eps * d[i]), minus = input.v.map((x, i) => x - eps * d[i]);
      const fd = ((await at(plus)) - (await at(minus))) / (2 * eps);
      let an = 0;
      for (let i = 0; i < d.length; i++) an += grad[i] * d[i];
      t.log(`direction ${k}: analytic ${an.toExponential(4)}, finite difference ${fd.toExponential(4)}`);
      t.true(Math.abs(an - fd) <= 2e-2 * Math.abs(an) + 1e-5, `direction ${k}`);
    }
    // and per coordinate on a few entries of each row
    for (const i of [0, W + 5, 2 * W + 17]) {
      const plus = input.v.slice(), minus = input.v.slice();
      plus[i] += eps; minus[i] -= eps;
      const fd = ((await at(plus)) - (await at(minus))) / (2 * eps);
      t.true(Math.abs(grad[i] - fd) <= 3e-2 * Math.abs(grad[i]) + 2e-5, `coordinate ${i}: ${grad[i]} vs ${fd}`);
    }
  });

  deviceTest('the prefix cache is exact: same losses and gradient as recomputing every position', async (t) => {
    const src = randomWeightSource(cfg, 11);
    const cacheDir = testCacheDir();
    const [cached, plain] = await Promise.all([
      OtiSession.create(src, { cacheDir, threads: 1, prefixCache: true, device }),
      OtiSession.create(src, { cacheDir, threads: 1, prefixCache: false, device }),
    ]);
    const rng = new Rng(4);
    const B = 3, W = cfg.text.width, P = cfg.projectionDim;
    const { bos, eos } = cfg.text;
    const input = {
      v: rng.fillNormal(new Float32Array(B * W), 0.3), image: rng.fillNormal(new Float32Array(B * P)), target: rng.fillNormal(new Float32Array(B * P)),
      // `$` at 3, 4 and 2: the shared cacheable prefix is 2 positions, the rest of the prefix is recomputed
      templateIds: [[bos, 5, 6, 259, eos], [bos, 7, 8, 9, 259, 11, eos], [bos, 3, 259, 4, 4, eos]],
      phraseIds: [[bos, 20, 259, 21, eos], [bos, 30, 31, 32, 33, 259, eos], [bos, 40, 41, 42, 43, 259, 44, 45, eos]],
      lambdaCos: 1, lambdaGpt: 0.5,
    };
    const a = await cached.step(input), b = await plain.step(input);
    t.true(Math.abs(a.loss - b.loss) < 1e-6);
    for (let i = 0; i < B; i++) {
      t.true(Math.abs(a.lcos[i] - b.lcos[i]) < 1e-6);
      t.true(Math.abs(a.lgpt[i] - b.lgpt[i]) < 1e-6);
    }
    const rel = relDiff(a.grad, b.grad);
    t.log(`gradient max rel diff ${rel.toExponential(2)}; ${cached.prefixes?.computed} prefixes computed`);
    t.true(rel < 1e-5);
    // a second step reuses the cached prefixes
    const before = cached.prefixes!.computed;
    await cached.step(input);
    t.is(cached.prefixes!.computed, before);
  });
});
