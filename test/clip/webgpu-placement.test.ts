/**
 * Every graph kind starword builds runs its heavy ops on the WebGPU provider: each session is profiled (ORT
 * writes one event per node run, with the provider that ran it), run once on the golden tiny model, released,
 * and the events are read back. Shape arithmetic (Shape, Slice, Concat, Gather of shapes, Cast) may stay on the
 * CPU; a matrix product, softmax, normalisation, attention or activation there fails the test.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { parseOtiProblem, solveOtiProblem } from '../../stages/oti/debug-problem.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { PHI_PARAMS, type PhiWeights, phiDims } from '../../stages/phi/phi-net.ts';
import { PhiSession } from '../../stages/phi/phi-session.ts';
import { type Im2TextWeights, im2textDims, paramNames } from '../../stages/pic2word/im2text.ts';
import { Pic2WordSession } from '../../stages/pic2word/pic2word-session.ts';
import { LincirSession } from '../../stages/lincir/lincir-session.ts';
import { Rng } from '../../util/rng.ts';
import { DeviceAdamW } from '../../clip/training/optimizer-state.ts';
import { DeviceTransfer } from '../../clip/runtime/device-tensors.ts';
import { forEachDevice } from '../helpers/devices.ts';
import { TINY_MODEL_DIR, flat, golden, testCacheDir } from '../helpers/golden.ts';

/** Ops whose work grows with the model: any of these on the CPU provider is a fallback that costs. */
export const HEAVY_OP = /MatMul|Gemm|Softmax|Norm|Attention|Gelu|Sigmoid|Tanh|Erf|Relu|Conv|Reduce|Exp$|^Log$|Sqrt|Pow/;
/** The trainer's optimizer graph's ops: elementwise over every weight, so each one on the CPU would bring the state back to the host. */
const OPTIMIZER_OP = /^(Mul|Add|Div|Sqrt|Sub|Gather)$/;
/**
 * A graph whose state stays on the device must also keep the state's elementwise update there: one of these on
 * the CPU provider would copy v*, the moments and the EMA to the host and back every step.
 */
const STATE_OP = /^(Add|Sub|Mul|Div|Where|Equal|Greater)$/;

interface Placement { op: string; provider: string; float: boolean }

function readPlacements(dir: string): Placement[] {
  const out: Placement[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const events = JSON.parse(readFileSync(join(dir, f), 'utf8')) as
      { cat?: string; args?: { op_name?: string; provider?: string; output_type_shape?: Record<string, unknown>[] } }[];
    for (const e of events) {
      if (e.cat !== 'Node' || !e.args?.op_name || !e.args.provider) continue;
      // shape arithmetic is int64; the state's update is float
      const float = (e.args.output_type_shape ?? []).some((o) => 'float' in o);
      out.push({ op: e.args.op_name, provider: e.args.provider, float });
    }
  }
  return out;
}

function summary(p: Placement[]): string {
  const counts = new Map<string, number>();
  for (const { op, provider } of p) counts.set(`${op}@${provider.replace('ExecutionProvider', '')}`, (counts.get(`${op}@${provider.replace('ExecutionProvider', '')}`) ?? 0) + 1);
  return [...counts].sort().map(([k, n]) => `${k}×${n}`).join(' ');
}

const cacheDir = testCacheDir();
const rel = (x: number[] | number[][]): Float32Array => flat(Array.isArray(x[0]) ? (x as number[][]) : [x as number[]]);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const p2w: any = JSON.parse(readFileSync(new URL('../fixtures/pic2word/golden.json', import.meta.url), 'utf8'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const lincir: any = JSON.parse(readFileSync(new URL('../fixtures/lincir/golden.json', import.meta.url), 'utf8'));

/** Each graph kind: opens its session(s) with `opts`, runs them once, releases them (which writes the profile). */
const KINDS: Record<string, (opts: { cacheDir: string; device: 'webgpu' | 'cpu'; profilePrefix: string }) => Promise<void>> = {
  'vision (fused)': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const enc = await createImageEncoder(model, { ...opts, unfused: false }); // not WebGPU's default (see ImageEncoderOptions.unfused), still placed there
    const S = model.config.vision.imageSize;
    await enc.encodePixels([new Rng(1).fillNormal(new Float32Array(3 * S * S)), new Rng(2).fillNormal(new Float32Array(3 * S * S))]);
    await enc.release?.();
  },
  'vision (primitive)': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const enc = await createImageEncoder(model, { ...opts, unfused: true });
    const S = model.config.vision.imageSize;
    await enc.encodePixels([new Rng(1).fillNormal(new Float32Array(3 * S * S))]);
    await enc.release?.();
  },
  'text (plain and shared prefix)': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const enc = await createTextEncoder(model, opts);
    // rows sharing SOT 11 12 (shared prefix) and a row sharing only SOT (plain)
    await enc.encodeIds([Int32Array.from([998, 11, 12, 13, 999]), Int32Array.from([998, 11, 12, 14, 15, 999]), Int32Array.from([998, 40, 999])]);
    await enc.release?.();
  },
  'OTI gradient with the prefix cache': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const [session, text] = await Promise.all([OtiSession.create(model, { ...opts, prefixCache: true, stateOnDevice: false }), createTextEncoder(model, opts)]);
    const g = golden();
    await solveOtiProblem(parseOtiProblem({ ...g.oti, image_features: g.image.features, adamw: { ...g.oti.adamw, steps: 1 } }), session, text);
    await Promise.all([session.release(), text.release?.()]);
  },
  'OTI with its state on the device (prefix keys and values, AdamW and EMA in the graph)': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const session = await OtiSession.create(model, { ...opts, stateOnDevice: true });
    const g = golden();
    const W = session.width;
    const state = await session.begin(flat(g.oti.v0), flat(g.image.features), { adamw: { lr: 2e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 },
      emaDecay: 0.99, lambdaCos: 1, lambdaGpt: 0.5, gradScale: 1 });
    const rows = g.oti.v0.map(() => true);
    const target = new Rng(4).fillNormal(new Float32Array(rows.length * session.dim));
    for (let s = 0; s < 2; s++) await state.step({ target, templateIds: g.oti.template_ids, phraseIds: g.oti.phrase_ids, gptMask: rows, active: rows });
    const { v } = await state.finish();
    if (v.length !== rows.length * W || !v.every(Number.isFinite)) throw new Error('the device state came back wrong');
    await session.release();
  },
  'phi training and eval': async (opts) => {
    const g = golden().phi;
    const model = await loadClipModel(TINY_MODEL_DIR);
    const dims = phiDims(model.config.projectionDim, model.config.text.width);
    const weights = {} as PhiWeights;
    for (const n of PHI_PARAMS) weights[n] = rel(g.weights[n]);
    const target = new Rng(3).fillNormal(new Float32Array(g.phrase_ids.length * model.config.projectionDim));
    const input = { weights, image: rel(g.image_features), oti: rel(g.oti_tokens), phraseIds: g.phrase_ids, target,
      lambdaDistil: g.lambda_distil, lambdaGpt: g.lambda_gpt, temperature: g.temperature };
    for (const withGradients of [true, false]) {
      const s = await PhiSession.create(model, dims, withGradients, opts);
      await s.step(input);
      await s.release();
    }
  },
  'Pic2Word training and eval': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const dims = im2textDims(model.config.projectionDim, model.config.text.width, p2w.middle_dim, p2w.n_layer);
    const weights: Im2TextWeights = {};
    for (const n of paramNames(dims)) weights[n] = rel(p2w.weights[n]);
    for (const withGradients of [true, false]) {
      const s = await Pic2WordSession.create(model, dims, p2w.prompt_ids, withGradients, opts);
      await s.step({ weights, image: flat(p2w.image_features), logitScale: p2w.logit_scale, masks: null });
      await s.release();
    }
  },
  'LinCIR training and eval': async (opts) => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const dims = phiDims(model.config.projectionDim, model.config.text.width);
    const weights = {} as PhiWeights;
    for (const n of PHI_PARAMS) weights[n] = rel(lincir.weights[n]);
    for (const withGradients of [true, false]) {
      const s = await LincirSession.create(model, dims, withGradients, opts);
      await s.step({ weights, input: flat(lincir.input), maskedIds: lincir.masked_ids, target: flat(lincir.target),
        masks: withGradients ? [flat(lincir.masks[0]), flat(lincir.masks[1])] : null });
      await s.release();
    }
  },
};

forEachDevice((deviceTest) => {
  deviceTest('AdamW over a network\'s parameters (the trainer\'s state on the device): every Mul, Add, Div, Sqrt, Sub and Gather runs on WebGPU', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'starword-profile-'));
    try {
      const specs = [{ name: 'fc.weight', shape: [16, 8] }, { name: 'fc.bias', shape: [16] }];
      const rng = new Rng(1);
      const weights = Object.fromEntries(specs.map((s) => [s.name, rng.fillNormal(new Float32Array(s.shape.reduce((a, b) => a * b, 1)))]));
      const opts = { cacheDir, device: 'webgpu' as const };
      const state = await DeviceAdamW.create(specs, () => ({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }), { weights, steps: 0 },
        { ...opts, profilePrefix: join(dir, 'p') });
      const transfer = new DeviceTransfer(opts);
      for (const s of specs) state.params.setGrad(s.name, await transfer.upload(rng.fillNormal(new Float32Array(weights[s.name].length)), s.shape));
      await state.step();
      await Promise.all([state.release(), transfer.release()]);
      const placements = readPlacements(dir).filter((p) => OPTIMIZER_OP.test(p.op));
      t.log(summary(placements));
      t.true(placements.filter((p) => p.op === 'Sqrt' && p.provider === 'WebGpuExecutionProvider').length === specs.length, 'the update ran on WebGPU');
      t.deepEqual([...new Set(placements.filter((p) => p.provider !== 'WebGpuExecutionProvider').map((p) => `${p.op} on ${p.provider}`))], [], 'optimizer ops fell back');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [kind, run] of Object.entries(KINDS)) {
    const statefulKind = /state on the device/.test(kind);
    deviceTest(`${kind}: every matrix product, softmax, normalisation, attention and activation runs on WebGPU`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'starword-profile-'));
      try {
        await run({ cacheDir, device: 'webgpu', profilePrefix: join(dir, 'p') });
        const placements = readPlacements(dir);
        t.log(summary(placements));
        const heavy = placements.filter((p) => HEAVY_OP.test(p.op) || (statefulKind && p.float && STATE_OP.test(p.op)));
        // the test must see the work it checks: at least one matrix product ran, and ran on WebGPU
        t.true(heavy.some((p) => /MatMul|Gemm|Attention/.test(p.op) && p.provider === 'WebGpuExecutionProvider'), 'no matrix product ran on WebGPU');
        // and, for a stateful graph, that the profile's output types were read: the state's Where ran on WebGPU
        if (statefulKind) t.true(placements.some((p) => p.op === 'Where' && p.float && p.provider === 'WebGpuExecutionProvider'), 'no float Where seen');
        const onCpu = heavy.filter((p) => p.provider !== 'WebGpuExecutionProvider');
        t.deepEqual([...new Set(onCpu.map((p) => `${p.op} on ${p.provider}`))], [], 'heavy ops fell back');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}, ['webgpu']);

test('the check sees a fallback: the same vision graph on the CPU provider is flagged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'starword-profile-'));
  try {
    await KINDS['vision (fused)']({ cacheDir, device: 'cpu', profilePrefix: join(dir, 'p') });
    const onCpu = readPlacements(dir).filter((p) => HEAVY_OP.test(p.op) && p.provider !== 'WebGpuExecutionProvider');
    t.true(onCpu.some((p) => p.op === 'Gemm' || p.op === 'MatMul'), summary(readPlacements(dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after.always(() => rmSync(cacheDir, { recursive: true, force: true }));
