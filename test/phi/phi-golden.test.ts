/** phi's forward, losses and weight gradients against golden.json's `phi` (an independent PyTorch run). */
import test from 'ava';
import { rmSync } from 'node:fs';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { PHI_PARAMS, type PhiWeights, phiDims } from '../../stages/phi/phi-net.ts';
import { PhiSession, type PhiStepInput } from '../../stages/phi/phi-session.ts';
import { TINY_MODEL_DIR, flat, golden, relDiff, testCacheDir } from '../helpers/golden.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';

const cacheDir = testCacheDir();
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));
forEachDevice((deviceTest, device) => {
  const setup = lazy(async () => {
    const g = golden().phi;
    const model = await loadClipModel(TINY_MODEL_DIR);
    const dims = phiDims(model.config.projectionDim, model.config.text.width);
    const [session, text] = await Promise.all([PhiSession.create(model, dims, true, { cacheDir, threads: 1, device }), createTextEncoder(model, { cacheDir, device })]);
    const targets = await text.encodeIds(g.target_phrase_ids.map((r: number[]) => Int32Array.from(r)));
    const weights = {} as PhiWeights;
    for (const n of PHI_PARAMS) weights[n] = flat(Array.isArray(g.weights[n][0]) ? g.weights[n] : [g.weights[n]]);
    const input: PhiStepInput = {
      weights, image: flat(g.image_features), oti: flat(g.oti_tokens), phraseIds: g.phrase_ids, target: flat(targets),
      lambdaDistil: g.lambda_distil, lambdaGpt: g.lambda_gpt, temperature: g.temperature,
    };
    return { session, input, g };
  });

  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

  deviceTest('phi output, L_distil, L_gpt and total match golden', async (t) => {
    const { session, input, g } = await setup();
    const r = await session.step(input);
    t.log(`distil ${r.distil} vs ${g.distil}, gpt ${r.gpt} vs ${g.gpt}, total ${r.total} vs ${g.total}`);
    t.true(relDiff(r.phiOut, flat(g.phi_out)) < 1e-4);
    t.true(rel(r.distil, g.distil) < 1e-4);
    t.true(rel(r.gpt, g.gpt) < 1e-4);
    t.true(rel(r.total, g.total) < 1e-4);
  });

  deviceTest('gradients of the total match golden for every weight', async (t) => {
    const { session, input, g } = await setup();
    const r = await session.step(input);
    for (const n of PHI_PARAMS) {
      const d = relDiff(r.grads![n], flat(Array.isArray(g.grads[n][0]) ? g.grads[n] : [g.grads[n]]));
      t.log(`${n}: rel ${d.toExponential(2)}`);
      t.true(d < 1e-3, n);
    }
  });

  deviceTest('gradients of the L_gpt term alone match golden grads_gpt_term', async (t) => {
    const { session, input, g } = await setup();
    const r = await session.step({ ...input, lambdaDistil: 0 });
    for (const n of PHI_PARAMS) {
      const d = relDiff(r.grads![n], flat(Array.isArray(g.grads_gpt_term[n][0]) ? g.grads_gpt_term[n] : [g.grads_gpt_term[n]]));
      t.log(`${n}: rel ${d.toExponential(2)}`);
      t.true(d < 1e-3, n);
    }
  });
});
