/**
 * phi trained with its weights, gradients and AdamW moments kept on the device (the trainer's DeviceAdamW and
 * TrainedParams) ends where the host path (JavaScript AdamW, weights fed and gradients read back every step) ends,
 * also when the device run is stopped after an epoch and resumed from its checkpoint. On the CPU provider the device
 * path is forced (`stateOnDevice: true`, plain CPU tensors); on WebGPU it is the default. The reference is the
 * host path on the CPU provider in both cases.
 *
 * Tolerance: 3 epochs of AdamW at lr 3e-3. The optimizer graph computes in float32 where adamw.ts keeps float64
 * intermediates (1e-7 apart a step: test/clip/adamw-device.test.ts), WebGPU rounds its own way, and training carries
 * these along. Measured: 5.8e-7 on both (CPU and lavapipe); the bound,
 * 2e-5 of the weights' largest magnitude, leaves room for a GPU's other reduction order.
 */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import * as metricsSchema from '../../schemas/phi-metrics.ts';
import { loadPhiSafetensors } from '../../stages/phi/export.ts';
import { PHI_PARAMS, paramShape } from '../../stages/phi/phi-net.ts';
import { SEARLE_PHI, runPhi } from '../../stages/phi/stage.ts';
import type { PhiOptions } from '../../stages/phi/train.ts';
import { ADAMW_HYPER_SIZE } from '../../clip/training/adamw-graph.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';
import { relDiff, testCacheDir } from '../helpers/golden.ts';
import { tempDir } from '../helpers/test-utils.ts';
import { makeSyntheticModel, makeSyntheticRun } from './synthetic-run.ts';

const cacheDir = testCacheDir();
const setup = lazy(async () => {
  const [modelDir, run] = await Promise.all([makeSyntheticModel(), makeSyntheticRun(160)]);
  const model = await loadClipModel(modelDir);
  const tokenizer = ClipTokenizer.default();
  const text = await createTextEncoder(model, { cacheDir, threads: 1, tokenizer });
  return { model, run, text, tokenize: (s: string) => tokenizer.tokenize(s, 77) };
});
const made: string[] = [cacheDir];
test.after.always(async () => {
  if (made.length > 1) {
    const { model, run } = await setup();
    made.push(model.dir, run);
  }
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const options: PhiOptions = { ...SEARLE_PHI, epochs: 3, batchSize: 32, lr: 3e-3, valFraction: 0.2, checkpointEvery: 1 };

async function train(session: SessionOptions, stopAfterEpoch?: number, outDir?: string) {
  const { model, run, text, tokenize } = await setup();
  const out = outDir ?? tempDir('phi-device');
  made.push(out);
  const summary = await runPhi({ runDir: run, outDir: out, src: model, text, tokenize, options, session: { cacheDir, threads: 1, ...session }, stopAfterEpoch });
  return { out, summary };
}

const host = lazy(() => train({ stateOnDevice: false }));

forEachDevice((deviceTest, device) => {
  deviceTest('phi with its state on the device trains as the host path does, across a checkpoint resume', async (t) => {
    const ref = await host();
    const first = await train({ device, stateOnDevice: true }, 1);
    t.is(first.summary.last?.epoch, 1);
    const resumed = await train({ device, stateOnDevice: true }, undefined, first.out);
    t.is(resumed.summary.resumedFrom, 1);

    const a = await loadPhiSafetensors(join(ref.out, 'phi.safetensors')), b = await loadPhiSafetensors(join(resumed.out, 'phi.safetensors'));
    let worst = 0;
    for (const n of PHI_PARAMS) {
      const d = relDiff(b.weights[n], a.weights[n]);
      worst = Math.max(worst, d);
      t.true(d < 2e-5, `${n}: ${d}`);
    }
    const rows = (dir: string) => metricsSchema.fromTable(tableFromIPC(readFileSync(join(dir, 'metrics.arrow'))));
    const ma = rows(ref.out), mb = rows(resumed.out);
    t.deepEqual(mb.map((r) => r.epoch), [0, 1, 2, 3]);
    for (const [i, r] of mb.entries()) t.true(Math.abs(r.valDistil - ma[i].valDistil) <= 2e-5 * Math.abs(ma[i].valDistil), `epoch ${r.epoch} held-out distil`);
    t.true(ma[3].valDistil < ma[0].valDistil - 0.05, 'the runs compared did train');
    t.log(`weights within ${worst.toExponential(2)} of the host path; held-out distil ${mb[3].valDistil} vs ${ma[3].valDistil}`);

    // the optimizer ran as a graph: its per-step upload is each parameter's [8] hyper-parameters (plus, on WebGPU,
    // the checkpoint's weights and moments uploaded once at the resume); the host path's optimizer moves nothing
    const steps = resumed.summary.transfers.steps;
    const hp = steps * PHI_PARAMS.length * ADAMW_HYPER_SIZE * 4;
    const dims = b.dims, weightBytes = PHI_PARAMS.reduce((s, n) => s + 4 * paramShape(dims, n).reduce((x, y) => x * y, 1), 0);
    t.is(resumed.summary.transfers.optimizer.toDevice, device === 'webgpu' ? hp + 3 * weightBytes : hp);
    t.is(ref.summary.transfers.optimizer.toDevice, 0);
    // and the training graph's per-step traffic lost the weights (up) and their gradients (down)
    const perStep = (s: typeof ref.summary, k: 'toDevice' | 'toHost') => s.transfers.trainGraph[k] / s.transfers.steps;
    t.true(perStep(ref.summary, 'toHost') - perStep(resumed.summary, 'toHost') >= weightBytes);
  });
});
