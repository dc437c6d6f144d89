import test from 'ava';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { TINY_IMAGE, TINY_MODEL_DIR, flat, golden, relDiff, testCacheDir } from '../helpers/golden.ts';
import { freshCacheDir } from '../helpers/test-utils.ts';
import { forEachDevice } from '../helpers/devices.ts';

const cacheDir = testCacheDir();
const modelP = loadClipModel(TINY_MODEL_DIR);

forEachDevice((deviceTest, device) => {
  deviceTest('text features match golden.json (cut at each batch\'s longest EOT)', async (t) => {
    const g = golden();
    const enc = await createTextEncoder(await modelP, { cacheDir, device });
    const feats = await enc.encodeIds(g.text.ids.map((r: number[]) => Int32Array.from(r)));
    const rel = relDiff(flat(feats), flat(g.text.features));
    t.log(`max rel diff ${rel.toExponential(2)}`);
    t.true(rel < 1e-4);
    // rows are batched by length internally: any input order comes back in that order
    const reversed = await enc.encodeIds([...g.text.ids].reverse().map((r: number[]) => Int32Array.from(r)));
    t.true(relDiff(flat(reversed), flat([...g.text.features].reverse())) < 1e-4);
    // one row at a time (other cut lengths) gives the same features
    for (let i = 0; i < g.text.ids.length; i++) {
      const [one] = await enc.encodeIds([Int32Array.from(g.text.ids[i])]);
      t.true(relDiff(one, g.text.features[i]) < 1e-4, `row ${i} alone`);
    }
  });

  deviceTest('image features match golden.json', async (t) => {
    const g = golden();
    const enc = await createImageEncoder(await modelP, { cacheDir, device });
    const feats = await enc.encodePixels(g.image.pixels.map((p: number[][][]) => Float32Array.from(p.flat(2))));
    const rel = relDiff(flat(feats), flat(g.image.features));
    t.log(`max rel diff ${rel.toExponential(2)}`);
    t.true(rel < 1e-4);
  });

  deviceTest('image.png through preprocessing and the vision graph matches the golden features (targetpad and plain)', async (t) => {
    const g = golden();
    const model = await modelP;
    const enc = await createImageEncoder(model, { cacheDir, device });
    for (const [mode, key] of [['targetpad', 'features_targetpad_1.25'], ['plain', 'features_plain']] as const) {
      const px = await preprocessImage(TINY_IMAGE, preprocessOptions({ imageSize: model.config.vision.imageSize, mode }));
      const [f] = await enc.encodePixels([px]);
      const rel = relDiff(f, g.preprocess[key]);
      t.log(`${mode}: max rel diff ${rel.toExponential(2)}`);
      t.true(rel < 1e-4, mode);
    }
  });

  deviceTest('pseudo-token injection: text(template with v0 at $) reproduces golden L_cos at v0', async (t) => {
    const g = golden();
    const enc = await createTextEncoder(await modelP, { cacheDir, device });
    const rows = g.oti.template_ids.map((r: number[]) => Int32Array.from(r));
    const feats = await enc.encodeIds(rows, g.oti.v0.map((v: number[]) => Float32Array.from(v)));
    const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let ab = 0, aa = 0, bb = 0;
      for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
      return ab / Math.sqrt(aa * bb);
    };
    feats.forEach((f, i) => {
      const lcos = 1 - cos(f, g.image.features[i]);
      t.true(Math.abs(lcos - g.oti.lcos_at_v0[i]) < 1e-5, `row ${i}: ${lcos} vs ${g.oti.lcos_at_v0[i]}`);
    });
    // without the pseudo-token the `$` row encodes the plain token: different features
    const plain = await enc.encodeIds(rows);
    t.true(relDiff(plain[0], feats[0]) > 1e-3);
    // a null entry leaves that row plain while the other row is injected
    const mixed = await enc.encodeIds(rows, [null, Float32Array.from(g.oti.v0[1])]);
    t.true(relDiff(mixed[0], plain[0]) < 1e-6);
    t.true(relDiff(mixed[1], feats[1]) < 1e-6);
  });
});

test('a pseudo-token of the wrong width is refused with a clear message', async (t) => {
  const g = golden();
  const enc = await createTextEncoder(await modelP, { cacheDir });
  await t.throwsAsync(enc.encodeIds([Int32Array.from(g.oti.template_ids[0])], [new Float32Array(3)]), { message: /pseudo-token of length 3.*width is 32/ });
});

test('the graph cache is reused: a second encoder loads the cached graph', async (t) => {
  const { readdirSync, statSync } = await import('node:fs');
  const own = freshCacheDir();
  await createTextEncoder(await modelP, { cacheDir: own });
  const [entry] = readdirSync(`${own}/graphs`);
  const built = statSync(`${own}/graphs/${entry}/model.onnx`).mtimeMs;
  await createTextEncoder(await modelP, { cacheDir: own });
  t.deepEqual(readdirSync(`${own}/graphs`), [entry]);
  t.is(statSync(`${own}/graphs/${entry}/model.onnx`).mtimeMs, built);
});
