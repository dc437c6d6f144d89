/**
 * AdamW as one graph over a network's parameters (clip/training/optimizer-state.ts DeviceAdamW) against adamw.ts's
 * JavaScript AdamW (HostAdamW), which the OTI golden test checks against PyTorch: six steps with a warmup-and-decay
 * schedule, two parameter groups (a weight with decay, a bias without), a resume from a checkpoint's state half-way.
 * On the CPU provider and on WebGPU; the graph computes in float32 where adamw.ts keeps float64 intermediates.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { DeviceTransfer } from '../../clip/runtime/device-tensors.ts';
import type { AdamWOptions } from '../../clip/training/adamw.ts';
import { DeviceAdamW, HostAdamW, type OptimizerStart, type OptimizerState } from '../../clip/training/optimizer-state.ts';
import { Rng } from '../../util/rng.ts';
import { forEachDevice } from '../helpers/devices.ts';
import { relDiff, testCacheDir } from '../helpers/golden.ts';

const cacheDir = testCacheDir();
test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));

const specs = [{ name: 'proj.weight', shape: [5, 3] }, { name: 'proj.bias', shape: [5] }];
const options = (name: string): AdamWOptions => ({ lr: 2e-2, betas: [0.9, 0.98], eps: 1e-6, weightDecay: name.endsWith('.bias') ? 0 : 0.1 });
const schedule = (step: number) => 2e-2 * Math.min(1, (step + 1) / 3) * (1 - step / 10); // warmup, then linear decay
type W = Record<string, Float32Array>;

function initial(): W {
  const rng = new Rng(5);
  return Object.fromEntries(specs.map((s) => [s.name, rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1)))]));
}

/** Six steps with the same gradients; a checkpoint's state (weights, m, v, step) is taken after three and a fresh state opened at it. */
async function run(open: (start: OptimizerStart<W>) => Promise<OptimizerState<W>>, transfer: DeviceTransfer): Promise<{ w: W; m: W; v: W; steps: number }> {
  const rng = new Rng(9);
  let state = await open({ weights: initial(), steps: 0 });
  for (let step = 0; step < 6; step++) {
    if (step === 3) {
      const [w, { m, v }] = [await state.weights(), await state.moments()];
      const copy = (x: W): W => Object.fromEntries(Object.entries(x).map(([k, a]) => [k, a.slice()]));
      const saved = { w: copy(w), m: copy(m), v: copy(v), steps: state.steps };
      await state.release();
      state = await open({ weights: saved.w, m: saved.m, v: saved.v, steps: saved.steps });
    }
    for (const s of specs) {
      const g = rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
      state.params.setGrad(s.name, await transfer.upload(g, s.shape));
    }
    await state.step(schedule(step));
  }
  const out = { w: await state.weights(), ...(await state.moments()), steps: state.steps };
  await state.release();
  return out;
}

forEachDevice((deviceTest, device) => {
  deviceTest('AdamW as a graph gives adamw.ts\'s weights and moments over six scheduled steps, two groups and a resume', async (t) => {
    const opts = { cacheDir, threads: 1, device };
    const transfer = new DeviceTransfer(opts);
    try {
      const host = await run(async (start) => new HostAdamW(specs, options, start, opts), transfer);
      const graph = await run((start) => DeviceAdamW.create(specs, options, start, opts), transfer);
      t.is(graph.steps, 6);
      t.is(host.steps, 6);
      for (const s of specs) {
        const dw = relDiff(graph.w[s.name], host.w[s.name]), dm = relDiff(graph.m[s.name], host.m[s.name]), dv = relDiff(graph.v[s.name], host.v[s.name]);
        t.log(`${s.name}: weights ${dw.toExponential(2)}, m ${dm.toExponential(2)}, v ${dv.toExponential(2)}`);
        t.true(dw < 1e-6 && dm < 1e-6 && dv < 1e-6, s.name);
      }
      // the weights moved by far more than the tolerance (a test of nothing would pass too)
      t.true(relDiff(host.w['proj.weight'], initial()['proj.weight']) > 1e-2);
    } finally {
      await transfer.release();
    }
  });
});
