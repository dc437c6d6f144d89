/**
 * How far each image's OTI token moves when it shares a session.run with more images than SEARLE's 32.
 * Runs N images through optimizeBatch at batch 32 and at larger batches (each image's draws come from its own
 * seeded generator, so only the batch differs), and prints per batch size the largest relative change of an
 * image's token and EMA against batch 32: max_i ‖t_i(B) − t_i(32)‖∞ / ‖t_i(32)‖∞.
 *
 *   npx tsx bench/oti-batch-size.ts [--images 128] [--steps 40] [--batches 64,128] [--width 64 --layers 2 --heads 2] [--device cpu]
 *
 * Random text weights of the given dims; random image features; each image 4 random phrases with `$`.
 */
import { parseArgs } from 'node:util';
import { presetConfig } from '../clip/weights/make-model.ts';
import type { Device } from '../clip/runtime/onnx-session.ts';
import { randomWeightSource } from '../clip/weights/random-weights.ts';
import { createTextEncoder } from '../clip/towers/text-encoder.ts';
import { PSEUDO_TOKEN_ID } from '../clip/text/text-batch.ts';
import { type OtiImage, type OtiResult, optimizeBatch } from '../stages/oti/optimize.ts';
import { SEARLE_OTI } from '../stages/oti/options.ts';
import { OtiSession } from '../stages/oti/oti-session.ts';
import { Rng } from '../util/rng.ts';

const { values: a } = parseArgs({ options: {
  images: { type: 'string', default: '128' }, steps: { type: 'string', default: '40' }, batches: { type: 'string', default: '64,128' },
  width: { type: 'string', default: '64' }, layers: { type: 'string', default: '2' }, heads: { type: 'string', default: '2' },
  device: { type: 'string', default: 'cpu' }, threads: { type: 'string', default: '2' }, scaled: { type: 'boolean', default: false },
} });
const N = Number(a.images), steps = Number(a.steps), width = Number(a.width);
const cfg = presetConfig('b32', { textWidth: width, textLayers: Number(a.layers), textHeads: Number(a.heads), textMlp: 4 * width, projectionDim: width,
  visionWidth: 64, visionLayers: 1, visionHeads: 1, visionMlp: 64 });
const src = randomWeightSource(cfg, 3);
const device = a.device as Device;
const session = await OtiSession.create(src, { device, threads: Number(a.threads) });
const text = await createTextEncoder(src, { device, threads: Number(a.threads) });
const rng = new Rng(9);
const { bos, eos } = cfg.text;
const templates = [[bos, 320, 1125, 539, PSEUDO_TOKEN_ID, eos], [bos, 320, 2368, 539, PSEUDO_TOKEN_ID, eos]].map((r) => Int32Array.from(r));
const images: OtiImage[] = [];
for (let i = 0; i < N; i++) {
  const ids = Array.from({ length: 4 }, () => {
    const len = 6 + rng.int(12), pos = 1 + rng.int(len - 2);
    return Int32Array.from([bos, ...Array.from({ length: len - 2 }, (_, k) => (k + 1 === pos ? PSEUDO_TOKEN_ID : 300 + rng.int(40000))), eos]);
  });
  const targets = await text.encodeIds(ids.map((r) => Int32Array.from(r, (x) => (x === PSEUDO_TOKEN_ID ? 400 : x))));
  images.push({ id: `img${i}`, features: rng.fillNormal(new Float32Array(cfg.projectionDim)), phrases: ids.map((r, k) => ({ ids: r, target: targets[k] })) });
}
const run = async (B: number): Promise<OtiResult[]> => {
  const out: OtiResult[] = [];
  for (let s = 0; s < N; s += B) out.push(...await optimizeBatch(session, images.slice(s, s + B), templates, { ...SEARLE_OTI, steps, batchSize: B, gradientBatch: a.scaled ? 32 : undefined }));
  return out;
};
const t0 = performance.now();
const base = await run(32);
console.log(`${N} images, ${steps} steps, text width ${width}, ${a.layers} layers, device ${device}, gradient ${a.scaled ? 'scaled to a batch of 32 (gradientBatch 32)' : 'the mean over the run'}; batch 32 in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const relMove = (x: Float32Array, y: Float32Array): number => {
  let d = 0, m = 0;
  for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i] - y[i])); m = Math.max(m, Math.abs(y[i])); }
  return d / m;
};
for (const B of String(a.batches).split(',').map(Number)) {
  const t = performance.now();
  const r = await run(B);
  const tok = Math.max(...r.map((x, i) => relMove(x.token, base[i].token)));
  const ema = Math.max(...r.map((x, i) => relMove(x.ema, base[i].ema)));
  console.log(`batch ${B}: max relative move of a token ${tok.toExponential(2)}, of its EMA ${ema.toExponential(2)} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
}
