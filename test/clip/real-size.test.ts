/**
 * A real-size model (openai/clip-vit-base-patch32 dims, random weights) through the same path a user's
 * checkpoint takes: make-model writes HF files, loadClipModel reads them, both graphs are built, load
 * in ONNX Runtime and run. Values are random; the point is that real dims build, load and run.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { Rng } from '../../util/rng.ts';
import { tempDir } from '../helpers/test-utils.ts';

test('a ViT-B/32-sized random model: graphs build, load and run', async (t) => {
  const root = tempDir('b32');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const made = await makeRandomModel({ preset: 'b32', seed: 1, outDir: join(root, 'model') });
  t.true(made.bytes > 500e6);
  const model = await loadClipModel(made.dir);
  t.is(model.config.text.width, 512);
  t.is(model.config.vision.width, 768);
  const cacheDir = join(root, 'cache');
  const text = await createTextEncoder(model, { cacheDir, tokenizer: ClipTokenizer.default() });
  const feats = await text.encodeTexts(['a photo of a cat', 'a photo of $ that is on a table'], [null, new Rng(2).fillNormal(new Float32Array(512), 0.02)]);
  t.is(feats.length, 2);
  t.is(feats[0].length, 512);
  t.true(feats.every((f) => f.every(Number.isFinite)));
  const vision = await createImageEncoder(model, { cacheDir });
  const [img] = await vision.encodePixels([new Rng(3).fillNormal(new Float32Array(3 * 224 * 224))]);
  t.is(img.length, 512);
  t.true(img.every(Number.isFinite));
});
