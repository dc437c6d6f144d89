/**
 * Finite-difference check of f_M's weight gradients through CLIP's text tower and the symmetric
 * contrastive loss, on a random tiny CLIP with other dims than the golden one (token width ≠ projection
 * dim, odd head count), dropout masks on, three blocks, a logit scale large enough to make the softmax sharp.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { presetConfig } from '../../clip/weights/make-model.ts';
import { randomWeightSource } from '../../clip/weights/random-weights.ts';
import { type Im2TextWeights, im2textDims, initIm2TextWeights, paramNames } from '../../stages/pic2word/im2text.ts';
import { Pic2WordSession, type Pic2WordStepInput } from '../../stages/pic2word/pic2word-session.ts';
import { Rng } from '../../util/rng.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { forEachDevice } from '../helpers/devices.ts';

const cacheDir = testCacheDir();
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));

const cfg = presetConfig('tiny', { textWidth: 18, textHeads: 3, textMlp: 30, textLayers: 2, projectionDim: 10, vocab: 600,
  visionWidth: 16, visionLayers: 1, visionHeads: 2, visionMlp: 20 });

forEachDevice((deviceTest, device) => {
  deviceTest('weight gradients match central finite differences', async (t) => {
    const base = randomWeightSource(cfg, 12);
    // larger text weights so the text features move visibly with the token in float32
    const src = { ...base, hash: `${base.hash}-x5`, tensor: (n: string) => { const a = base.tensor(n); return /norm|layrnorm/.test(n) ? a : a.map((x) => x * 5); } };
    const dims = im2textDims(cfg.projectionDim, cfg.text.width, 14, 3);
    const { bos, eos } = cfg.text;
    const session = await Pic2WordSession.create(src, dims, [bos, 20, 21, 22, 259, eos], true, { cacheDir, threads: 1, device });
    const rng = new Rng(7);
    const B = 4;
    const weights = initIm2TextWeights(dims, rng);
    const mask = () => Float32Array.from({ length: B * dims.middle }, () => (rng.next() < 0.3 ? 0 : 1 / 0.7));
    const input: Pic2WordStepInput = {
      weights, image: rng.fillNormal(new Float32Array(B * dims.input)), masks: [mask(), mask(), mask()], logitScale: 8,
    };
    const r0 = await session.step(input);
    t.log(`loss ${r0.loss} (i2t ${r0.lossImageToText}, t2i ${r0.lossTextToImage})`);
    t.true(Math.abs(r0.loss - (r0.lossImageToText + r0.lossTextToImage) / 2) < 1e-6);
    const grads = r0.grads!;
    const names = paramNames(dims);
    const at = async (w: Im2TextWeights) => (await session.step({ ...input, weights: w })).loss;
    const eps = 1e-3;
    for (let k = 0; k < 4; k++) {
      const plus: Im2TextWeights = {}, minus: Im2TextWeights = {};
      let an = 0;
      for (const n of names) {
        const d = rng.fillNormal(new Float32Array(weights[n].length));
        plus[n] = weights[n].map((x, i) => x + eps * d[i]);
        minus[n] = weights[n].map((x, i) => x - eps * d[i]);
        for (let i = 0; i < d.length; i++) an += grads[n][i] * d[i];
      }
      const fd = ((await at(plus)) - (await at(minus))) / (2 * eps);
      t.log(`direction ${k}: analytic ${an.toExponential(4)}, finite difference ${fd.toExponential(4)}`);
      t.true(Math.abs(an - fd) <= 2e-2 * Math.abs(an) + 1e-4, `direction ${k}`);
    }
    // per coordinate: each parameter's entry with the largest gradient
    const h = 1e-2;
    for (const n of names) {
      let i = 0;
      grads[n].forEach((g, j) => { if (Math.abs(g) > Math.abs(grads[n][i])) i = j; });
      const plus = { ...weights, [n]: weights[n].slice() }, minus = { ...weights, [n]: weights[n].slice() };
      plus[n][i] += h; minus[n][i] -= h;
      const fd = ((await at(plus)) - (await at(minus))) / (2 * h);
      t.log(`${n}[${i}]: analytic ${grads[n][i].toExponential(4)}, finite difference ${fd.toExponential(4)}`);
      t.true(Math.abs(grads[n][i] - fd) <= 3e-2 * Math.abs(grads[n][i]) + 2e-4, `${n}[${i}]: ${grads[n][i]} vs ${fd}`);
    }
  });

  /** The authors' loss in float64 from the graph's own image and text features. */
  function hostLoss(image: Float32Array, text: Float32Array, B: number, scale: number): number {
    const norm = (a: Float32Array, P: number) => Array.from({ length: B }, (_, r) => {
      const row = Array.from(a.subarray(r * P, (r + 1) * P));
      const n = Math.hypot(...row);
      return row.map((x) => x / n);
    });
    const P = image.length / B;
    const I = norm(image, P), T = norm(text, P);
    const L = I.map((a) => T.map((b) => scale * a.reduce((s, x, k) => s + x * b[k], 0)));
    const ce = (rows: number[][]) => rows.reduce((s, row, i) => {
      const m = Math.max(...row);
      return s + m + Math.log(row.reduce((z, x) => z + Math.exp(x - m), 0)) - row[i];
    }, 0) / B;
    return (ce(L) + ce(L[0].map((_, j) => L.map((row) => row[j])))) / 2;
  }

  deviceTest('the loss is the authors\' symmetric cross-entropy, finite and exact at a large logit scale', async (t) => {
    const src = randomWeightSource(cfg, 13);
    const dims = im2textDims(cfg.projectionDim, cfg.text.width, 8, 2);
    const { bos, eos } = cfg.text;
    const session = await Pic2WordSession.create(src, dims, [bos, 30, 259, eos], false, { cacheDir, threads: 1, device });
    const rng = new Rng(3);
    const weights = initIm2TextWeights(dims, rng);
    const B = 5;
    const image = rng.fillNormal(new Float32Array(B * dims.input));
    for (const scale of [1, 14.3, 1000]) {
      const r = await session.step({ weights, image, logitScale: scale });
      const want = hostLoss(image, r.text, B, scale);
      t.log(`scale ${scale}: loss ${r.loss}, float64 ${want}`);
      t.true(Number.isFinite(r.loss));
      t.true(Math.abs(r.loss - want) <= 1e-5 * Math.max(1, Math.abs(want)), `scale ${scale}`);
    }
  });
});
