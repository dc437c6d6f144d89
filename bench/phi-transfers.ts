/**
 * Host ↔ device bytes of phi's training steps, with its state on the host (weights fed and gradients read back every
 * step, AdamW in JavaScript) and on the device (clip/training/optimizer-state.ts DeviceAdamW), at SEARLE's dims:
 * ViT-B/32 (d = D = 512, hidden 2048: 6.3M parameters) or ViT-L/14 (768, 3072), batch 256, dropout on, one phrase
 * of `--phrase` tokens per row for L_gpt. Runs the shared trainer over a task that draws random batches, and prints
 * per step what the training graph's feeds and outputs and the optimizer moved, as placed (host-side tensors count;
 * on the CPU provider the same placement is counted, nothing is moved), plus what each epoch's host copy costs.
 *
 *   npx tsx bench/phi-transfers.ts [--model b32|l14] [--batch 256] [--phrase 20] [--steps 2] [--device cpu|webgpu]
 *
 * The text tower is cut to one layer of the model's width: the bytes do not depend on its depth, its time does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Device } from '../clip/runtime/onnx-session.ts';
import { train } from '../clip/training/trainer.ts';
import { presetConfig } from '../clip/weights/make-model.ts';
import { randomWeightSource } from '../clip/weights/random-weights.ts';
import { PHI_LAYOUT } from '../stages/phi/checkpoint.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights, initPhiWeights, phiDims, phiDropoutMasks } from '../stages/phi/phi-net.ts';
import { PhiSession } from '../stages/phi/phi-session.ts';
import { phiAdamW } from '../stages/phi/train.ts';
import { SEARLE_PHI } from '../stages/phi/stage.ts';
import { Rng } from '../util/rng.ts';

const { values: a } = parseArgs({ options: {
  model: { type: 'string', default: 'b32' }, batch: { type: 'string', default: '256' }, phrase: { type: 'string', default: '20' },
  steps: { type: 'string', default: '2' }, device: { type: 'string', default: 'cpu' }, threads: { type: 'string', default: '2' },
} });
const preset = a.model === 'l14' ? 'l14' : 'b32';
const B = Number(a.batch), L = Number(a.phrase), steps = Number(a.steps);
const base = presetConfig(preset);
const cfg = presetConfig(preset, { textLayers: 1, visionLayers: 1, visionWidth: 64, visionHeads: 1, visionMlp: 64 });
const src = randomWeightSource(cfg, 3);
const d = cfg.projectionDim, D = cfg.text.width;
const dims = phiDims(d, D);
const MB = (x: number) => (x / 1e6).toFixed(3);

async function measure(stateOnDevice: boolean) {
  const session = { device: a.device as Device, threads: Number(a.threads), stateOnDevice, cacheDir: mkdtempSync(join(tmpdir(), 'phi-transfers-cache-')) };
  const out = mkdtempSync(join(tmpdir(), 'phi-transfers-'));
  const phi = await PhiSession.create(src, dims, true, session);
  try {
    const o = { ...SEARLE_PHI, batchSize: B };
    const res = await train<PhiDims, PhiWeights, { epoch: number }>({
      network: { label: 'phi', layout: PHI_LAYOUT, dims, init: (rng) => initPhiWeights(dims, rng), adamW: () => phiAdamW(o) },
      budget: { epochs: 1, maxSteps: null, checkpointEvery: 1, seed: 0 }, stepsPerEpoch: steps,
      async step(s) {
        const r = (n: number) => s.rng.fillNormal(new Float32Array(n));
        const ids = Array.from({ length: B }, () => [cfg.text.bos, ...Array.from({ length: L - 3 }, (_, k) => 300 + k), 259, cfg.text.eos]);
        const x = await phi.step({ weights: s.params, image: r(B * d), oti: r(B * D), phraseIds: ids, target: r(B * d),
          masks: phiDropoutMasks(B, dims.hidden, o.dropout, s.rng), lambdaDistil: o.lambdaDistil, lambdaGpt: o.lambdaGpt, temperature: o.temperature });
        return { loss: x.total, parts: {} };
      },
      evaluate: async () => ({}),
      row: (f) => ({ epoch: f.epoch }),
    }, { outDir: out, configHash: 'bench', session });
    return { graph: phi.traffic, optimizer: res.optimizerTraffic };
  } finally {
    await phi.release();
    rmSync(out, { recursive: true, force: true });
    rmSync(session.cacheDir, { recursive: true, force: true });
  }
}

console.log('optimizer bytes: up = initial weights and zero moments (3 × the weights, on a GPU only: DeviceTransfer copies nothing on the CPU) '
  + `+ ${PHI_PARAMS.length} × 32 B of hyper-parameters a step; down = the epoch's host copy of the weights and, for its checkpoint, m and v`);
const weightBytes = PHI_PARAMS.reduce((s, n) => s + 4 * PHI_LAYOUT.shape(dims, n).reduce((x, y) => x * y, 1), 0);
console.log(`phi at ${preset} dims (d ${d}, D ${D}, hidden ${dims.hidden}; text tower ${base.text.layers} → 1 layer): ${weightBytes / 4} parameters, `
  + `${MB(weightBytes)} MB; batch ${B}, phrases of ${L} tokens, ${steps} steps, device ${a.device}`);
for (const onDevice of [false, true]) {
  const { graph, optimizer } = await measure(onDevice);
  console.log(`state on the ${onDevice ? 'device' : 'host  '}: per step, training graph ${MB(graph.toDevice / graph.runs)} MB up, ${MB(graph.toHost / graph.runs)} MB down; `
    + `optimizer over the ${steps} steps and one epoch's end ${optimizer.toDevice} B up, ${MB(optimizer.toHost)} MB down`);
}
