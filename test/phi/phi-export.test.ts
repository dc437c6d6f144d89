/** phi's exports round-trip, and invert's tokens parts load as OTI warm starts. */
import test from 'ava';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

import { join } from 'node:path';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { preprocessOptions } from '../../clip/image/preprocess.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as errorsSchema from '../../schemas/errors.ts';
import * as featuresSchema from '../../schemas/features.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { readPart, writePart } from '../../schemas/part-io.ts';
import { readInitTokens } from '../../stages/oti/init-from.ts';
import { exportPhiOnnx, exportPhiSafetensors, loadPhiSafetensors } from '../../stages/phi/export.ts';
import { PhiPredictor, invertFeatures, invertImages } from '../../stages/phi/invert.ts';
import { PHI_PARAMS, initPhiWeights, phiDims } from '../../stages/phi/phi-net.ts';
import { PhiSession } from '../../stages/phi/phi-session.ts';
import { Rng } from '../../util/rng.ts';
import { TINY_IMAGE, TINY_MODEL_DIR, relDiff, testCacheDir } from '../helpers/golden.ts';
import { readRawSafetensors } from '../helpers/model-files.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const made: string[] = [cacheDir];
const tmp = (prefix: string) => { const d = tempDir(prefix); made.push(d); return d; };
test.after.always(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const setup = (async () => {
  const model = await loadClipModel(TINY_MODEL_DIR);
  const dims = phiDims(model.config.projectionDim, model.config.text.width);
  const weights = initPhiWeights(dims, new Rng(9));
  const dir = tmp('starword-phi-export-');
  exportPhiOnnx(join(dir, 'phi.onnx'), dims, weights);
  await exportPhiSafetensors(join(dir, 'phi.safetensors'), dims, weights);
  return { model, dims, weights, dir };
})();

test('the ONNX export and the safetensors export predict what the eval graph does', async (t) => {
  const { model, dims, weights, dir } = await setup;
  const rng = new Rng(4);
  const B = 5;
  const image = rng.fillNormal(new Float32Array(B * dims.input));
  const session = await PhiSession.create(model, dims, false, { cacheDir, threads: 1 });
  const ev = await session.step({
    weights, image, oti: rng.fillNormal(new Float32Array(B * dims.output)), phraseIds: Array.from({ length: B }, () => [998, 999]),
    target: new Float32Array(B * model.config.projectionDim), lambdaDistil: 1, lambdaGpt: 0.75, temperature: 0.25,
  });
  const rows = Array.from({ length: B }, (_, i) => image.slice(i * dims.input, (i + 1) * dims.input));
  for (const file of ['phi.onnx', 'phi.safetensors']) {
    const phi = await PhiPredictor.open(join(dir, file), { cacheDir, threads: 1 });
    t.is(phi.inputDim, dims.input);
    t.is(phi.outputDim, dims.output);
    const out = await phi.predict(rows);
    const flat = new Float32Array(B * dims.output);
    out.forEach((r, i) => flat.set(r, i * dims.output));
    t.true(relDiff(flat, ev.phiOut) < 1e-6, file);
  }
});

test('the safetensors export holds SEARLE names and [out, in] shapes, and loads back the same values', async (t) => {
  const { dims, weights, dir } = await setup;
  const raw = readRawSafetensors(join(dir, 'phi.safetensors'));
  t.deepEqual(raw.map((r) => r.name).sort(), [...PHI_PARAMS].sort());
  t.deepEqual(raw.find((r) => r.name === 'layers.0.weight')!.shape, [dims.hidden, dims.input]);
  t.deepEqual(raw.find((r) => r.name === 'layers.6.weight')!.shape, [dims.output, dims.hidden]);
  const back = await loadPhiSafetensors(join(dir, 'phi.safetensors'));
  t.deepEqual(back.dims, dims);
  for (const n of PHI_PARAMS) t.deepEqual(Array.from(back.weights[n]), Array.from(weights[n]), n);
});

test('invert of a features folder writes tokens parts that readInitTokens loads', async (t) => {
  const { dims, dir } = await setup;
  const embed = tmp('starword-phi-embed-');
  const rng = new Rng(2);
  const rows = ['a', 'b', 'c'].map((id) => ({ imageId: id, features: rng.fillNormal(new Float32Array(dims.input)) }));
  await writePart(embed, featuresSchema.KIND, 3, featuresSchema.toTable(rows, dims.input), SCHEMA_VERSION);
  const out = tmp('starword-phi-inv-');
  const phi = await PhiPredictor.open(join(dir, 'phi.onnx'), { cacheDir, threads: 1 });
  const s = await invertFeatures(embed, out, phi);
  t.like(s, { parts: 1, images: 3, ok: 3, failed: 0 });
  const init = readInitTokens(out, dims.output);
  t.deepEqual([...init.keys()], ['a', 'b', 'c']);
  const expect = await phi.predict([rows[1].features]);
  t.deepEqual(Array.from(init.get('b')!), Array.from(expect[0]));
  const part = tokensSchema.fromTable(readPart(out, tokensSchema.KIND, 3));
  t.true(part.rows.every((r) => r.steps === 0 && r.status === 'ok' && r.token !== null));
  // resume: a second run skips the done part
  t.like(await invertFeatures(embed, out, phi), { partsSkipped: 1, images: 0 });
});

test('invert of image files records a bad image as a failed row and goes on', async (t) => {
  const { model, dir } = await setup;
  const imgs = tmp('starword-phi-imgs-');
  copyFileSync(TINY_IMAGE, join(imgs, 'good.png'));
  writeFileSync(join(imgs, 'bad.png'), 'not an image');
  const out = tmp('starword-phi-inv-');
  const phi = await PhiPredictor.open(join(dir, 'phi.safetensors'), { cacheDir, threads: 1 });
  const encoder = await createImageEncoder(model, { cacheDir, threads: 1 });
  const pre = preprocessOptions({ imageSize: model.config.vision.imageSize, preprocessorConfig: model.preprocessorConfig });
  const images = [{ id: 'bad.png', path: join(imgs, 'bad.png') }, { id: 'good.png', path: join(imgs, 'good.png') }];
  const s = await invertImages(images, out, phi, encoder, pre, { partSize: 10, batchSize: 4 });
  t.like(s, { parts: 1, images: 2, ok: 1, failed: 1 });
  const part = tokensSchema.fromTable(readPart(out, tokensSchema.KIND, 0));
  t.is(part.rows[0].status, 'failed');
  t.regex(part.rows[0].error ?? '', /bad\.png/);
  const errors = errorsSchema.fromTable(readPart(out, errorsSchema.KIND, 0));
  t.is(errors.length, 1);
  t.is(errors[0].stage, 'invert');
  const [feat] = await encoder.encodePixels([await (await import('../../clip/image/preprocess.ts')).preprocessImage(TINY_IMAGE, pre)]);
  const [expect] = await phi.predict([feat]);
  const init = readInitTokens(out, phi.outputDim);
  t.deepEqual([...init.keys()], ['good.png']);
  t.true(relDiff(init.get('good.png')!, expect) < 1e-6);
  t.true(readFileSync(join(out, 'tokens-00000.stats.json'), 'utf8').includes('"failed": 1'));
});
