/**
 * Pic2Word trained with its weights, gradients and AdamW moments on the device ends where the host path ends, also
 * across a checkpoint resume: the case with open_clip's cosine schedule and warmup (a rate set before every step)
 * and two parameter groups (weights with decay, biases without), which phi does not have. On the CPU provider the
 * device path is forced (`stateOnDevice: true`); on WebGPU it is the default. The reference is the host path on the
 * CPU provider. Tolerance as in test/phi/phi-device-state.test.ts (the gap is printed).
 */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { Rng } from '../../util/rng.ts';
import type { FeatureExample } from '../../stages/pic2word/dataset.ts';
import { PIC2WORD_DEFAULTS, type Pic2WordOptions } from '../../stages/pic2word/options.ts';
import { trainPic2Word } from '../../stages/pic2word/train.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';
import { TINY_MODEL_DIR, relDiff, testCacheDir } from '../helpers/golden.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const made: string[] = [cacheDir];
test.after.always(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const g: any = JSON.parse(readFileSync(new URL('../fixtures/pic2word/golden.json', import.meta.url), 'utf8'));
const options: Pic2WordOptions = {
  ...PIC2WORD_DEFAULTS, epochs: 3, batchSize: 8, lr: 1e-2, warmup: 4, middleDim: g.middle_dim, layers: g.n_layer, logitScale: 10, checkpointEvery: 1,
};

const setup = lazy(async () => {
  const model = await loadClipModel(TINY_MODEL_DIR);
  const rng = new Rng(4);
  const examples = (n: number, tag: string): FeatureExample[] =>
    Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, features: rng.fillNormal(new Float32Array(model.config.projectionDim)) }));
  return { model, train: examples(24, 'train'), val: examples(8, 'val') };
});

async function train(session: SessionOptions, stopAfterEpoch?: number, outDir?: string) {
  const { model, train: trainSet, val } = await setup();
  const out = outDir ?? tempDir('pic2word-device');
  made.push(out);
  const res = await trainPic2Word({
    src: model, promptIds: g.prompt_ids, train: trainSet, val, options, outDir: out, configHash: 'device-state-test',
    session: { cacheDir, threads: 1, ...session }, stopAfterEpoch,
  });
  return { out, res };
}

const host = lazy(() => train({ stateOnDevice: false }));

forEachDevice((deviceTest, device) => {
  deviceTest('Pic2Word with its state on the device trains as the host path does (cosine schedule, two groups, a resume)', async (t) => {
    const ref = (await host()).res;
    const first = await train({ device, stateOnDevice: true }, 1);
    const { res } = await train({ device, stateOnDevice: true }, undefined, first.out);
    t.is(res.resumedFrom, 1);
    t.deepEqual(res.metrics.map((r) => r.epoch), [0, 1, 2, 3]);
    let worst = 0;
    for (const [n, w] of Object.entries(ref.weights)) {
      const d = relDiff(res.weights[n], w);
      worst = Math.max(worst, d);
      t.true(d < 2e-5, `${n}: ${d}`);
    }
    for (const [i, r] of res.metrics.entries()) {
      t.is(r.lr, ref.metrics[i].lr, `epoch ${r.epoch}: the schedule's rate`);
      t.true(Math.abs(r.valLoss - ref.metrics[i].valLoss) <= 2e-5 * Math.abs(ref.metrics[i].valLoss), `epoch ${r.epoch} held-out loss`);
    }
    t.true(ref.metrics[3].trainLoss < ref.metrics[1].trainLoss, 'the runs compared did train');
    t.log(`weights within ${worst.toExponential(2)} of the host path; held-out loss ${res.metrics[3].valLoss} vs ${ref.metrics[3].valLoss}`);
  });
});
