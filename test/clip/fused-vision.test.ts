import { join } from 'node:path';
import { makeRandomModel, type ModelDims } from '../../clip/weights/make-model.ts';
import { buildVisionGraph, createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { relDiff, flat } from '../helpers/golden.ts';
import { tempDir } from '../helpers/test-utils.ts';
import { forEachDevice } from '../helpers/devices.ts';

/** Deterministic pseudo-random pixels in [-2, 2]. */
function pixels(count: number, size: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const next = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 * 4 - 2; };
  return Array.from({ length: count }, () => Float32Array.from({ length: 3 * size * size }, next));
}

const shapes: [string, Partial<ModelDims>][] = [
  ['tiny preset', {}],
  ['3 heads, 3 layers, MLP 72 (≠ 4W), 64 px', { visionWidth: 48, visionHeads: 3, visionLayers: 3, visionMlp: 72, imageSize: 64, patchSize: 16 }],
];

forEachDevice((deviceTest, device) => {
  for (const [label, overrides] of shapes) {
    deviceTest(`fused and primitive vision graphs agree: ${label}`, async (t) => {
      const dir = tempDir('model', (fn) => t.teardown(fn));
      await makeRandomModel({ preset: 'tiny', seed: 7, outDir: join(dir, 'model'), overrides });
      const model = await loadClipModel(join(dir, 'model'));
      // the fused graph really uses the contrib kernels, and no decomposed attention is left
      const ops = buildVisionGraph(model).nodes.map((n) => n.opType);
      // every block but the last runs Attention; the last reads CLS alone through MultiHeadAttention
      t.is(ops.filter((o) => o === 'Attention').length, model.config.vision.layers - 1);
      t.is(ops.filter((o) => o === 'MultiHeadAttention').length, 1);
      t.is(ops.filter((o) => o === 'QuickGelu').length, model.config.vision.layers);
      t.false(ops.includes('Softmax'));
      t.true(buildVisionGraph(model, false).nodes.some((n) => n.opType === 'Softmax'));

      const cacheDir = join(dir, 'cache');
      // CPU: ORT's fused kernels against the primitive graph. WebGPU: its default graph (primitive, see
      // ImageEncoderOptions.unfused) against the CPU's fused one, at the same tolerance
      const fused = await createImageEncoder(model, { cacheDir, batchSize: 3, unfused: false, device: 'cpu' });
      const plain = await createImageEncoder(model, { cacheDir, batchSize: 3, ...(device === 'cpu' ? { unfused: true } : {}), device });
      const px = pixels(5, model.config.vision.imageSize, 11);
      const a = flat(await fused.encodePixels(px)), b = flat(await plain.encodePixels(px));
      await fused.release?.(); await plain.release?.();
      t.true(a.every(Number.isFinite));
      const rel = relDiff(a, b);
      t.log(`max rel diff ${rel.toExponential(2)}`);
      t.true(rel < 1e-5);
      // and the images differ from each other (the comparison is not between constants)
      t.true(relDiff(a.subarray(0, a.length / 5), a.subarray(a.length / 5, 2 * a.length / 5)) > 1e-3);
    });
  }
});
