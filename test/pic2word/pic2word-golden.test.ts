/**
 * Pic2Word's token, loss and every weight gradient against test/fixtures/pic2word/golden.json: an
 * independent float64 PyTorch implementation of the authors' IM2TEXT, encode_text_img (token inserted
 * before the EOT of "a photo of") and get_loss_img2text on the tiny golden CLIP (make_golden.py there).
 */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { type Im2TextWeights, im2textDims, paramNames } from '../../stages/pic2word/im2text.ts';
import { Pic2WordSession, type Pic2WordStepInput } from '../../stages/pic2word/pic2word-session.ts';
import { TINY_MODEL_DIR, flat, relDiff, testCacheDir } from '../helpers/golden.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';

const cacheDir = testCacheDir();
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const g: any = JSON.parse(readFileSync(new URL('../fixtures/pic2word/golden.json', import.meta.url), 'utf8'));
const rows = (x: number[] | number[][]): Float32Array => flat(Array.isArray(x[0]) ? (x as number[][]) : [x as number[]]);

forEachDevice((deviceTest, device) => {
  const setup = lazy(async () => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const dims = im2textDims(model.config.projectionDim, model.config.text.width, g.middle_dim, g.n_layer);
    const [trainSession, evalSession] = await Promise.all([
      Pic2WordSession.create(model, dims, g.prompt_ids, true, { cacheDir, threads: 1, device }),
      Pic2WordSession.create(model, dims, g.prompt_ids, false, { cacheDir, threads: 1, device }),
    ]);
    const weights: Im2TextWeights = {};
    for (const n of paramNames(dims)) weights[n] = rows(g.weights[n]);
    const input: Pic2WordStepInput = { weights, image: flat(g.image_features), logitScale: g.logit_scale };
    return { model, dims, trainSession, evalSession, input };
  });

  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

  deviceTest('the state dict of the golden case has the authors\' IM2TEXT names and shapes', async (t) => {
    const { dims } = await setup();
    t.deepEqual(Object.keys(g.weights).sort(), paramNames(dims).sort());
    t.deepEqual(paramNames(dims), ['layers.0.0.weight', 'layers.0.0.bias', 'layers.1.0.weight', 'layers.1.0.bias', 'fc_out.weight', 'fc_out.bias']);
  });

  for (const mode of ['train', 'eval', 'eval_scale1'] as const) {
    deviceTest(`${mode}: loss and every weight gradient match the PyTorch golden case`, async (t) => {
      const { trainSession, input } = await setup();
      const want = g[mode];
      const r = await trainSession.step({
        ...input, masks: mode === 'train' ? g.masks.map((m: number[][]) => flat(m)) : null, logitScale: mode === 'eval_scale1' ? 1 : g.logit_scale,
      });
      t.log(`loss ${r.loss} vs ${want.loss} (rel ${rel(r.loss, want.loss).toExponential(2)})`);
      t.true(rel(r.loss, want.loss) < 1e-5);
      if (want.loss_i2t !== undefined) {
        t.true(rel(r.lossImageToText, want.loss_i2t) < 1e-5);
        t.true(rel(r.lossTextToImage, want.loss_t2i) < 1e-5);
        const d = relDiff(r.token, flat(want.token));
        t.log(`token rel ${d.toExponential(2)}`);
        t.true(d < 1e-5);
      }
      for (const n of paramNames(trainSession.dims)) {
        const d = relDiff(r.grads![n], rows(want.grads[n]));
        t.log(`${n}: rel ${d.toExponential(2)}`);
        t.true(d < 1e-5, n);
      }
    });
  }

  deviceTest('the eval session gives the training session\'s eval-mode loss', async (t) => {
    const { evalSession, input } = await setup();
    const r = await evalSession.step({ ...input, masks: null });
    t.is(r.grads, null);
    t.true(rel(r.loss, g.eval.loss) < 1e-5);
  });
});
