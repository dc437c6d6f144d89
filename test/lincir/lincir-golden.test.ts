/**
 * LinCIR's φ token, masked-caption text feature, MSE loss and every weight gradient against
 * test/fixtures/lincir/golden.json: an independent float64 PyTorch implementation of LinCIR's
 * train_phi.py step (make_golden.py there) on the tiny golden CLIP; plus finite differences of the
 * loss along each weight gradient, in float64 on the host from float32 session runs. On the CPU and WebGPU providers,
 * at the same tolerances.
 */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { PHI_PARAMS, type PhiWeights, phiDims } from '../../clip/training/searle-phi-net.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { LincirSession, type LincirStepInput } from '../../stages/lincir/lincir-session.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';
import { TINY_MODEL_DIR, flat, relDiff, testCacheDir } from '../helpers/golden.ts';

const cacheDir = testCacheDir();
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const g: any = JSON.parse(readFileSync(new URL('../fixtures/lincir/golden.json', import.meta.url), 'utf8'));
const rows = (x: number[] | number[][]): Float32Array => flat(Array.isArray(x[0]) ? (x as number[][]) : [x as number[]]);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

test('the golden case names its generator and holds SEARLE\'s Phi state dict', async (t) => {
  t.regex(g.generator, /make_golden\.py/);
  t.deepEqual(Object.keys(g.weights).sort(), [...PHI_PARAMS].sort());
});

forEachDevice((deviceTest, device) => {
  const setup = lazy(async () => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const dims = phiDims(model.config.projectionDim, model.config.text.width);
    const [trainSession, evalSession] = await Promise.all([
      LincirSession.create(model, dims, true, { cacheDir, threads: 1, device }), LincirSession.create(model, dims, false, { cacheDir, threads: 1, device }),
    ]);
    const weights = {} as PhiWeights;
    for (const n of PHI_PARAMS) weights[n] = rows(g.weights[n]);
    const input: LincirStepInput & { weights: PhiWeights } = { weights, input: flat(g.input), maskedIds: g.masked_ids, target: flat(g.target) };
    return { model, dims, trainSession, evalSession, input };
  });

  for (const mode of ['train', 'eval'] as const) {
    deviceTest(`${mode}: token, masked text feature, loss and every weight gradient match the PyTorch golden case`, async (t) => {
      const { trainSession, input } = await setup();
      const want = g[mode];
      const r = await trainSession.step({ ...input, masks: mode === 'train' ? [flat(g.masks[0]), flat(g.masks[1])] : null });
      t.log(`loss ${r.loss} vs ${want.loss} (rel ${rel(r.loss, want.loss).toExponential(2)})`);
      t.true(rel(r.loss, want.loss) < 1e-5);
      t.true(relDiff(r.token, flat(want.token)) < 1e-5);
      t.true(relDiff(r.text, flat(want.text)) < 1e-5);
      for (const n of PHI_PARAMS) {
        const d = relDiff(r.grads![n], rows(want.grads[n]));
        t.log(`${n}: rel ${d.toExponential(2)}`);
        t.true(d < 1e-5, n);
      }
    });
  }

  deviceTest('the eval session gives the training session\'s eval-mode loss, without gradients', async (t) => {
    const { evalSession, input } = await setup();
    const r = await evalSession.step({ ...input, masks: null });
    t.is(r.grads, null);
    t.true(rel(r.loss, g.eval.loss) < 1e-5);
  });

  deviceTest('finite differences: the loss moves along each gradient as the gradient says', async (t) => {
    const { evalSession, trainSession, input } = await setup();
    const r = await trainSession.step({ ...input, masks: null });
    for (const n of PHI_PARAMS) {
      const grad = r.grads![n];
      let norm = 0;
      for (const x of grad) norm += x * x;
      norm = Math.sqrt(norm);
      // a step of size h along the unit gradient: the loss changes by h·|g| to first order
      const h = 0.05;
      const moved = (sign: number) => {
        const w = { ...input.weights, [n]: input.weights[n].map((x, i) => x + (sign * h * grad[i]) / norm) } as PhiWeights;
        return evalSession.step({ ...input, weights: w, masks: null });
      };
      const [up, down] = await Promise.all([moved(1), moved(-1)]);
      const fd = (up.loss - down.loss) / (2 * h);
      t.log(`${n}: finite difference ${fd.toExponential(4)} vs |g| ${norm.toExponential(4)}`);
      t.true(Math.abs(fd - norm) / norm < 2e-2, n);
    }
  });
});
