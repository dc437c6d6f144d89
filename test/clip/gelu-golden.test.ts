/**
 * Exact GELU (`hidden_act: gelu`, LAION's OpenCLIP conversions) against an independent float64 PyTorch
 * reference (test/fixtures/tiny-clip-gelu/make_golden.py): text features in every layout the encoder
 * uses, image features through the fused and the primitive vision graphs, and the GELU op's forward and
 * vector-Jacobian product. Each comparison also checks that quick_gelu's features are far off, so the
 * tolerance cannot pass a model computed with the wrong activation.
 */
import test from 'ava';
import { join } from 'node:path';
import { gradients } from '../../clip/graph/autodiff.ts';
import { Graph } from '../../clip/graph/graph.ts';
import { writeOnnxModel } from '../../clip/graph/onnx-model.ts';
import * as op from '../../clip/graph/ops.ts';
import { createSession, floatTensor } from '../../clip/runtime/onnx-session.ts';
import { buildVisionGraph, createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { GELU_MODEL_DIR, flat, geluGolden, maxAbsDiff, relDiff, testCacheDir } from '../helpers/golden.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const modelP = loadClipModel(GELU_MODEL_DIR);
/** float32 graphs against float64: what the quick_gelu-vs-gelu gap (≥ 4e-3 relative here) must stay far above */
const TOL = 1e-4;

test('the fixture is an OpenCLIP-style config: gelu in both towers, non-OpenAI widths, heads and projection', async (t) => {
  const m = await modelP;
  t.like(m.config.text, { act: 'gelu', width: 32, heads: 2, mlp: 96 });
  t.like(m.config.vision, { act: 'gelu', width: 40, heads: 5, mlp: 72, eps: 1e-6 });
  t.is(m.config.projectionDim, 20);
});

test('text features match the gelu golden in one batch, row by row and in shared-prefix batches; quick_gelu\'s do not', async (t) => {
  const g = geluGolden();
  const ids = g.text.ids.map((r: number[]) => Int32Array.from(r));
  const want = flat(g.text.features);
  for (const batchSize of [undefined, 1, 2]) {
    const enc = await createTextEncoder(await modelP, { cacheDir, ...(batchSize ? { batchSize } : {}) });
    const got = flat(await enc.encodeIds(ids));
    // rows sharing "SOT 320 112" go through the shared-prefix path when batched together
    const rel = relDiff(got, want);
    t.log(`batch ${batchSize ?? 'default'}: max abs diff ${maxAbsDiff(got, want).toExponential(2)}, rel ${rel.toExponential(2)}`);
    t.true(rel < TOL, `batch ${batchSize}`);
    await enc.release?.();
  }
  t.true(relDiff(flat(g.text.features_if_quick_gelu), want) > 10 * TOL, 'the golden tells gelu from quick_gelu');
});

test('image features match the gelu golden through the fused (com.microsoft Gelu) and primitive (Erf) graphs', async (t) => {
  const g = geluGolden();
  const m = await modelP;
  const fusedOps = buildVisionGraph(m).nodes.map((n) => n.opType);
  t.is(fusedOps.filter((o) => o === 'Gelu').length, m.config.vision.layers);
  t.false(fusedOps.includes('QuickGelu'));
  t.true(buildVisionGraph(m, false).nodes.some((n) => n.opType === 'Erf'));
  const px = g.image.pixels.map((p: number[][][]) => Float32Array.from(p.flat(2)));
  const want = flat(g.image.features);
  for (const unfused of [false, true]) {
    const enc = await createImageEncoder(m, { cacheDir, unfused });
    const got = flat(await enc.encodePixels(px));
    await enc.release?.();
    const rel = relDiff(got, want);
    t.log(`${unfused ? 'primitive' : 'fused'}: max abs diff ${maxAbsDiff(got, want).toExponential(2)}, rel ${rel.toExponential(2)}`);
    t.true(rel < TOL, unfused ? 'primitive' : 'fused');
  }
  t.true(relDiff(flat(g.image.features_if_quick_gelu), want) > 10 * TOL, 'the golden tells gelu from quick_gelu');
});

test('op.gelu: forward and VJP match PyTorch (Φ(x) + x·φ(x)) and central finite differences', async (t) => {
  const g = geluGolden().gelu;
  const n = g.x.length;
  const G = new Graph();
  const x = G.input('x', 'float', [n], true);
  const w = G.input('w', 'float', [n]);
  const y = op.gelu(G, x);
  const loss = op.reduceSum(G, op.mul(G, y, w), [0], false);
  const [dx] = gradients(G, loss, [x]);
  G.output(y, 'y');
  G.output(dx, 'dx');
  const dir = tempDir('gelu');
  writeOnnxModel(G, join(dir, 'model.onnx'));
  const session = await createSession(join(dir, 'model.onnx'), { threads: 1 });
  const run = async (xs: Float32Array, ws: Float32Array) => {
    const out = await session.run({ x: floatTensor(xs, [n]), w: floatTensor(ws, [n]) });
    return { y: out.y.data as Float32Array, dx: out.dx.data as Float32Array };
  };
  const xs = Float32Array.from(g.x);
  const ones = new Float32Array(n).fill(1);
  const at = await run(xs, ones);
  t.log(`forward max abs diff ${maxAbsDiff(at.y, g.y).toExponential(2)}, VJP ${maxAbsDiff(at.dx, g.dy_dx).toExponential(2)}`);
  t.true(maxAbsDiff(at.y, g.y) < 1e-6);
  t.true(maxAbsDiff(at.dx, g.dy_dx) < 1e-6);
  // quick_gelu's derivative differs by about 0.01 near x = ±2: far above the 1e-6 tolerance
  const quickD = g.x.map((v: number) => { const s = 1 / (1 + Math.exp(-1.702 * v)); return s + 1.702 * v * s * (1 - s); });
  t.true(maxAbsDiff(quickD, g.dy_dx) > 5e-3);
  // the cotangent scales the VJP elementwise
  const ws = Float32Array.from({ length: n }, (_, i) => (i % 3) - 1.5);
  const scaled = await run(xs, ws);
  t.true(maxAbsDiff(scaled.dx, at.dx.map((d, i) => d * ws[i])) < 1e-6);
  // central differences of the graph's own forward (float32: h = 1e-2 keeps rounding near 1e-5)
  const h = 1e-2;
  const plus = await run(xs.map((v) => v + h), ones), minus = await run(xs.map((v) => v - h), ones);
  const fd = plus.y.map((v, i) => (v - minus.y[i]) / (2 * h));
  t.log(`finite differences: max abs diff ${maxAbsDiff(fd, at.dx).toExponential(2)}`);
  t.true(maxAbsDiff(fd, at.dx) < 1e-3);
});
