import { readFileSync } from 'node:fs';
import test from 'ava';
import sharp from 'sharp';
import { decodeImage, ImageDecodeError, type RgbImage } from '../../clip/image/image-decode.ts';
import {
  CLIP_MEAN, CLIP_STD, preprocessImage, preprocessOptions, preprocessRgb, resizeShorterSide, roundHalfEven,
  targetPad, type PreprocessOptions,
} from '../../clip/image/preprocess.ts';
import { resizeBicubicPil } from '../../clip/image/resample-pil.ts';
import { UserError } from '../../util/errors.ts';
import { maxAbsDiff, randomRgb, rawSharp, rgbFrom } from '../helpers/images.ts';

const fixture = new URL('../fixtures/tiny-clip/', import.meta.url);
const imagePath = new URL('image.png', fixture).pathname;
const golden = JSON.parse(readFileSync(new URL('golden.json', fixture), 'utf8')).preprocess as {
  size: number; mean: number[]; std: number[]; 'targetpad_1.25': number[][][]; plain: number[][][];
};

// ---- A plain float reference of Pillow's formula: no fixed point, no precomputed tables. ----

function cubic(x: number): number {
  x = Math.abs(x);
  if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
  return 0;
}

/** One axis: out[i] = Σ w_j · in[j], weights from the (widened) kernel, normalised, then rounded. */
function resample1d(src: (j: number) => number, inSize: number, outSize: number): number[] {
  const scale = inSize / outSize;
  const widen = Math.max(scale, 1);
  const out: number[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - 2 * widen + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + 2 * widen + 0.5));
    let sum = 0, acc = 0;
    for (let j = lo; j < hi; j++) {
      const w = cubic((j + 0.5 - center) / widen);
      sum += w; acc += w * src(j);
    }
    out.push(Math.min(255, Math.max(0, Math.round(acc / sum))));
  }
  return out;
}

function referenceResize(img: RgbImage, width: number, height: number): Uint8Array {
  const px = (x: number, y: number, c: number) => img.data[(y * img.width + x) * 3 + c];
  const mid = new Uint8Array(width * img.height * 3);
  for (let y = 0; y < img.height; y++) {
    for (let c = 0; c < 3; c++) {
      const row = width === img.width ? [...Array(width).keys()].map((x) => px(x, y, c))
        : resample1d((x) => px(x, y, c), img.width, width);
      row.forEach((v, x) => (mid[(y * width + x) * 3 + c] = v));
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let x = 0; x < width; x++) {
    for (let c = 0; c < 3; c++) {
      const at = (y: number) => mid[(y * width + x) * 3 + c];
      const col = height === img.height ? [...Array(height).keys()].map(at) : resample1d(at, img.height, height);
      col.forEach((v, y) => (out[(y * width + x) * 3 + c] = v));
    }
  }
  return out;
}

// ---- Resampler ----

test('resize to the same size is an exact copy', (t) => {
  const img = randomRgb(13, 7, 1);
  const out = resizeBicubicPil(img, 13, 7);
  t.not(out.data, img.data);
  t.deepEqual(out.data, img.data);
});

for (const [w, h, ow, oh] of [
  [53, 29, 17, 11], // downsampling by non-integer factors (3.12, 2.64)
  [7, 5, 19, 13], // upsampling
  [30, 10, 12, 25], // down in x, up in y
  [41, 41, 41, 23], // vertical pass only
  [41, 20, 32, 20], // horizontal pass only
  [200, 150, 64, 49], // a larger shrink: wide kernels
]) {
  test(`${w}×${h} → ${ow}×${oh} matches the float reference within 1`, (t) => {
    const img = randomRgb(w, h, w * 1000 + h);
    const out = resizeBicubicPil(img, ow, oh);
    t.is(out.width, ow);
    t.is(out.height, oh);
    const ref = referenceResize(img, ow, oh);
    const diff = maxAbsDiff(out.data, ref);
    const exact = out.data.filter((v, i) => v === ref[i]).length / ref.length;
    t.log(`max |diff| ${diff}, ${(exact * 100).toFixed(1)}% identical`);
    t.true(diff <= 1);
    t.true(exact > 0.9);
  });
}

test('a flat image stays flat when shrunk and when enlarged', (t) => {
  const flat = rgbFrom(37, 23, () => [200, 7, 128]);
  for (const [ow, oh] of [[10, 9], [80, 61]]) {
    const out = resizeBicubicPil(flat, ow, oh);
    t.true(out.data.every((v, i) => v === [200, 7, 128][i % 3]));
  }
});

test('overshoot is clipped to 0..255 (a hard edge, enlarged)', (t) => {
  const edge = rgbFrom(4, 1, (x) => (x < 2 ? [0, 0, 0] : [255, 255, 255]));
  const out = resizeBicubicPil(edge, 16, 1);
  // Bicubic rings past the edge; without the clip these would wrap around in a Uint8Array.
  t.is(out.data[0], 0);
  t.is(out.data[out.data.length - 1], 255);
  t.true([...out.data].slice(0, 12).every((v) => v <= 10));
});

test('bad resize targets are refused', (t) => {
  const img = randomRgb(4, 4, 1);
  t.throws(() => resizeBicubicPil(img, 0, 4), { instanceOf: RangeError });
  t.throws(() => resizeBicubicPil(img, 2.5, 4), { instanceOf: RangeError });
});

// ---- Against the golden reference (PIL + torchvision) ----

const flatGolden = (key: 'targetpad_1.25' | 'plain') => golden[key].flat(2);

test('fixture image: targetpad 1.25 and plain match PIL/torchvision exactly', async (t) => {
  t.is(golden.size, 32);
  t.deepEqual(golden.mean, CLIP_MEAN);
  t.deepEqual(golden.std, CLIP_STD);
  for (const [mode, key] of [['targetpad', 'targetpad_1.25'], ['plain', 'plain']] as const) {
    const out = await preprocessImage(imagePath, preprocessOptions({ imageSize: 32, mode, targetRatio: 1.25 }));
    t.is(out.length, 3 * 32 * 32);
    const diff = maxAbsDiff(out, flatGolden(key));
    t.log(`${mode}: max |diff| vs golden ${diff.toExponential(2)}`);
    t.true(diff < 1e-5); // the golden numbers are float32 printed in decimal
  }
});

test("sharp's own cubic resize misses the golden by far more", async (t) => {
  const img = await decodeImage(imagePath);
  // Already at the target size, 'plain' only centre-crops and normalises: the resize alone differs.
  const opts: PreprocessOptions = preprocessOptions({ imageSize: 32, mode: 'plain' });
  const worst: number[] = [];
  for (const [src, key] of [[targetPad(img, 1.25), 'targetpad_1.25'], [img, 'plain']] as const) {
    const ours = resizeShorterSide(src, 32);
    const viaSharp = await rawSharp(src.data, src.width, src.height, 3)
      .resize(ours.width, ours.height, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
    const sharpOut = preprocessRgb({ width: ours.width, height: ours.height, data: new Uint8Array(viaSharp) }, opts);
    const ref = flatGolden(key);
    const sharpDiff = maxAbsDiff(sharpOut, ref);
    const oursDiff = maxAbsDiff(preprocessRgb(ours, opts), ref);
    const off = ref.filter((v, i) => Math.abs(v - sharpOut[i]) > 1e-4).length;
    t.log(`${key}: sharp cubic max |diff| ${sharpDiff.toFixed(3)} (${off} of ${ref.length} values off); PIL resampler ${oursDiff.toExponential(2)}`);
    t.true(sharpDiff > 1000 * oursDiff);
    t.true(off >= 50);
    worst.push(sharpDiff);
  }
  // Beyond the golden tolerance: sharp could not pass the test above.
  t.true(Math.max(...worst) > 0.03);
});

// ---- The geometry steps ----

test('Python round: halves to even', (t) => {
  t.deepEqual([0.5, 1.5, 2.5, 3.5, 4.5, -0.5, 2.4, 2.6, 3].map(roundHalfEven), [0, 2, 2, 4, 4, 0, 2, 3, 3]);
});

test('targetpad geometry follows SEARLE', (t) => {
  const size = (w: number, h: number) => {
    const p = targetPad(rgbFrom(w, h, () => [9, 9, 9]), 1.25);
    return [p.width, p.height];
  };
  t.deepEqual(size(53, 29), [53, 41]); // vp = int((42.4 − 29) / 2) = 6, hp = max(int(−5.3), 0) = 0
  t.deepEqual(size(29, 53), [41, 53]);
  t.deepEqual(size(40, 36), [40, 36]); // ratio 1.11 < 1.25: untouched
  t.deepEqual(size(50, 40), [50, 40]); // exactly 1.25: padded by int(0) = 0
  t.deepEqual(size(100, 10), [100, 80]); // vp = int((80 − 10) / 2) = 35
  const p = targetPad(rgbFrom(10, 2, () => [9, 9, 9]), 1.25); // vp = int((8 − 2) / 2) = 3
  const row = (y: number) => [...p.data.subarray(y * 30, y * 30 + 30)];
  t.true(row(2).every((v) => v === 0));
  t.true(row(3).every((v) => v === 9));
  t.true(row(4).every((v) => v === 9));
  t.true(row(5).every((v) => v === 0));
});

test('resize: shorter side to size, longer side truncated', (t) => {
  const r = resizeShorterSide(randomRgb(53, 41, 3), 32);
  t.deepEqual([r.width, r.height], [41, 32]); // int(32 · 53 / 41) = int(41.37)
  const tall = resizeShorterSide(randomRgb(29, 58, 3), 32);
  t.deepEqual([tall.width, tall.height], [32, 64]);
});

test('centre crop offset is round((len − size) / 2), halves to even', (t) => {
  // Column x holds value x·10: no resize happens (shorter side already 4), so the crop is visible.
  const opts = preprocessOptions({ imageSize: 4, mode: 'plain', preprocessorConfig: { image_mean: [0, 0, 0], image_std: [1, 1, 1] } });
  const firstColumn = (w: number) => Math.round(preprocessRgb(rgbFrom(w, 4, (x) => [x * 10, 0, 0]), opts)[0] * 255 / 10);
  t.is(firstColumn(11), 4); // (11 − 4) / 2 = 3.5 → 4
  t.is(firstColumn(9), 2); // 2.5 → 2 (HF's floor would also give 2)
  t.is(firstColumn(10), 3);
});

test('normalisation is float32 ((v / 255) − mean) / std, channel planes in order', (t) => {
  const opts = preprocessOptions({ imageSize: 2, mode: 'plain' });
  const out = preprocessRgb(rgbFrom(2, 2, () => [0, 128, 255]), opts);
  const f = Math.fround;
  t.is(out[0], f(f(0 - f(CLIP_MEAN[0])) / f(CLIP_STD[0])));
  t.is(out[4], f(f(f(128 / 255) - f(CLIP_MEAN[1])) / f(CLIP_STD[1])));
  t.is(out[11], f(f(1 - f(CLIP_MEAN[2])) / f(CLIP_STD[2])));
});

test('preprocessImage passes decode errors through', async (t) => {
  const opts = preprocessOptions({ imageSize: 32 });
  const err = await t.throwsAsync(preprocessImage(Buffer.from('not an image'), opts, { name: 'x.txt' }), { instanceOf: ImageDecodeError });
  t.is(err?.message, 'x.txt: not an image (unrecognised or unsupported format)');
});

test('preprocessing a 640×480 photo-sized image is fast enough', async (t) => {
  const img = randomRgb(640, 480, 5);
  const opts = preprocessOptions({ imageSize: 224 });
  preprocessRgb(img, opts);
  const n = 10, start = performance.now();
  for (let i = 0; i < n; i++) preprocessRgb(img, opts);
  const ms = (performance.now() - start) / n;
  t.log(`640×480 → 224 targetpad: ${ms.toFixed(1)} ms per image`);
  t.true(ms < 500);
});

// ---- Options ----

test('options: CLIP defaults from the image size', (t) => {
  t.deepEqual(preprocessOptions({ imageSize: 224 }), {
    mode: 'targetpad', size: 224, mean: CLIP_MEAN, std: CLIP_STD, targetRatio: 1.25,
  });
  t.is(preprocessOptions({ imageSize: 336, mode: 'plain', targetRatio: 1.5 }).targetRatio, 1.5);
});

test("options: from HF's preprocessor_config.json", (t) => {
  const hf = {
    crop_size: { height: 336, width: 336 }, size: { shortest_edge: 336 }, resample: 3,
    image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.25, 0.25], do_center_crop: true,
  };
  const o = preprocessOptions({ imageSize: 224, preprocessorConfig: hf, mode: 'plain' });
  t.deepEqual(o, { mode: 'plain', size: 336, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], targetRatio: 1.25 });
  // Older configs: plain numbers; a resize side larger than the crop is kept.
  const old = preprocessOptions({ imageSize: 224, preprocessorConfig: { crop_size: 224, size: 256 } });
  t.is(old.size, 224);
  t.is(old.resizeSize, 256);
  t.deepEqual(old.mean, CLIP_MEAN);
  const out = preprocessRgb(randomRgb(300, 280, 9), old);
  t.is(out.length, 3 * 224 * 224);
});

test('options: bad configs are one-line user errors', (t) => {
  const bad = (cfg: Record<string, unknown>, re: RegExp) => {
    const err = t.throws(() => preprocessOptions({ imageSize: 224, preprocessorConfig: cfg }), { instanceOf: UserError });
    t.regex(err?.message ?? '', re);
  };
  bad({ resample: 2 }, /resample 2 is not supported/);
  bad({ image_mean: [0.5, 0.5] }, /image_mean: expected 3 numbers/);
  bad({ image_std: [0.5, 0, 0.5] }, /image_std: values must be positive/);
  bad({ crop_size: { height: 224, width: 200 } }, /only square/);
  bad({ size: { height: 224, width: 224 } }, /size: expected a number or \{shortest_edge\}/);
  t.throws(() => preprocessOptions({ imageSize: 0 }), { instanceOf: UserError });
  t.throws(() => preprocessOptions({ imageSize: 224, targetRatio: -1 }), { instanceOf: UserError });
});

test('sharp is the decoder the fixture image was read with', async (t) => {
  // Guards the golden comparison above: the fixture is an 8-bit RGB PNG, so decoding is lossless.
  const meta = await sharp(imagePath).metadata();
  t.deepEqual([meta.width, meta.height, meta.channels, meta.depth], [53, 29, 3, 'uchar']);
});
