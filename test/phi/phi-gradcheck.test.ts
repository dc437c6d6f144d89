/**
 * Finite-difference check of phi's weight gradients on a random tiny CLIP with other dims than the
 * golden one (token width ≠ projection dim, odd head count), dropout masks on, both loss terms weighted.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { presetConfig } from '../../clip/weights/make-model.ts';
import { randomWeightSource } from '../../clip/weights/random-weights.ts';
import { PHI_PARAMS, type PhiWeights, initPhiWeights, phiDims } from '../../stages/phi/phi-net.ts';
import { PhiSession, type PhiStepInput } from '../../stages/phi/phi-session.ts';
import { Rng } from '../../util/rng.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { forEachDevice } from '../helpers/devices.ts';

const cacheDir = testCacheDir();
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));

const cfg = presetConfig('tiny', { textWidth: 18, textHeads: 3, textMlp: 30, textLayers: 2, projectionDim: 10, vocab: 600,
  visionWidth: 16, visionLayers: 1, visionHeads: 2, visionMlp: 20 });

forEachDevice((deviceTest, device) => {
  deviceTest('weight gradients match central finite differences', async (t) => {
    const base = randomWeightSource(cfg, 11);
    // larger text weights so L_gpt is not flat and its share of the gradient is visible in float32
    const src = { ...base, hash: `${base.hash}-x5`, tensor: (n: string) => { const a = base.tensor(n); return /norm|layrnorm/.test(n) ? a : a.map((x) => x * 5); } };
    const dims = phiDims(cfg.projectionDim, cfg.text.width);
    const session = await PhiSession.create(src, dims, true, { cacheDir, threads: 1, device });
    const rng = new Rng(5);
    const B = 3;
    const { bos, eos } = cfg.text;
    const weights = initPhiWeights(dims, rng);
    const mask = () => Float32Array.from({ length: B * dims.hidden }, () => (rng.next() < 0.5 ? 0 : 2));
    const input: PhiStepInput = {
      weights,
      image: rng.fillNormal(new Float32Array(B * dims.input)),
      oti: rng.fillNormal(new Float32Array(B * dims.output)),
      phraseIds: [[bos, 259, 20, 21, eos], [bos, 30, 31, 259, eos], [bos, 40, 41, 42, 43, 259, 44, 45, eos]],
      target: rng.fillNormal(new Float32Array(B * cfg.projectionDim)),
      gptMask: [true, false, true],
      masks: [mask(), mask()],
      lambdaDistil: 1, lambdaGpt: 5, temperature: 0.25,
    };
    const { grads, gpt } = await session.step(input);
    t.true(gpt > 0.05, `L_gpt ${gpt} too flat to test`);
    const at = async (w: PhiWeights) => (await session.step({ ...input, weights: w })).total;
    const eps = 1e-3;
    for (let k = 0; k < 4; k++) {
      const plus = {} as PhiWeights, minus = {} as PhiWeights;
      let an = 0;
      for (const n of PHI_PARAMS) {
        const d = rng.fillNormal(new Float32Array(weights[n].length));
        plus[n] = weights[n].map((x, i) => x + eps * d[i]);
        minus[n] = weights[n].map((x, i) => x - eps * d[i]);
        for (let i = 0; i < d.length; i++) an += grads![n][i] * d[i];
      }
      const fd = ((await at(plus)) - (await at(minus))) / (2 * eps);
      t.log(`direction ${k}: analytic ${an.toExponential(4)}, finite difference ${fd.toExponential(4)}`);
      t.true(Math.abs(an - fd) <= 2e-2 * Math.abs(an) + 1e-4, `direction ${k}`);
    }
    // per coordinate: each parameter's entry with the largest gradient (a larger step: one entry moves)
    const h = 1e-2;
    for (const n of PHI_PARAMS) {
      let i = 0;
      grads![n].forEach((g, j) => { if (Math.abs(g) > Math.abs(grads![n][i])) i = j; });
      const plus = { ...weights, [n]: weights[n].slice() }, minus = { ...weights, [n]: weights[n].slice() };
      plus[n][i] += h; minus[n][i] -= h;
      const fd = ((await at(plus)) - (await at(minus))) / (2 * h);
      t.true(Math.abs(grads![n][i] - fd) <= 3e-2 * Math.abs(grads![n][i]) + 2e-4, `${n}[${i}]: ${grads![n][i]} vs ${fd}`);
    }
  });
});
