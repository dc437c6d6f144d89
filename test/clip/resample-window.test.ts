/**
 * The optimised resampler (windows, a black canvas read as zeros, unrolled kernels) and preprocessRgb
 * against the straightforward path: Pillow's two integer passes over the whole image, written plainly
 * below, then the crop and the normalisation. Every value must be identical, not close.
 */
import test from 'ava';
import type { RgbImage } from '../../clip/image/image-decode.ts';
import {
  CLIP_MEAN, CLIP_STD, preprocessOptions, preprocessRgb, roundHalfEven, targetPad, type PreprocessOptions,
} from '../../clip/image/preprocess.ts';
import { resampleTable, resizeBicubicPil, type ResizeWindow } from '../../clip/image/resample-pil.ts';
import { Rng } from '../../util/rng.ts';
import { randomRgb } from '../helpers/images.ts';

// ---- The straightforward path ----

/** One Pillow pass (Resample.c's ImagingResampleHorizontal/Vertical_8bpc), one value at a time. */
function refPass(src: Uint8Array, w: number, h: number, out: number, horizontal: boolean): Uint8Array {
  const t = resampleTable(horizontal ? w : h, out);
  const [ow, oh] = horizontal ? [out, h] : [w, out];
  const dst = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const i = horizontal ? x : y;
      for (let c = 0; c < 3; c++) {
        let acc = 1 << 21;
        for (let k = 0; k < t.counts[i]; k++) {
          const [sx, sy] = horizontal ? [t.starts[i] + k, y] : [x, t.starts[i] + k];
          acc = (acc + src[(sy * w + sx) * 3 + c] * t.weights[i * t.ksize + k]) | 0;
        }
        dst[(y * ow + x) * 3 + c] = Math.min(255, Math.max(0, acc >> 22));
      }
    }
  }
  return dst;
}

/** Pillow's resize: horizontal then vertical, a pass skipped when its size is unchanged. */
function refResize(img: RgbImage, width: number, height: number): RgbImage {
  let data = img.data;
  if (width !== img.width) data = refPass(data, img.width, img.height, width, true);
  if (height !== img.height) data = refPass(data, width, img.height, height, false);
  return { width, height, data: data === img.data ? data.slice() : data };
}

function slice(img: RgbImage, win: ResizeWindow): Uint8Array {
  const out: number[] = [];
  for (let y = win.y0; y < win.y1; y++) out.push(...img.data.subarray((y * img.width + win.x0) * 3, (y * img.width + win.x1) * 3));
  return Uint8Array.from(out);
}

/** TargetPad (a real canvas), Resize, CenterCrop with zero padding, ToTensor, Normalize. */
function refPreprocess(img: RgbImage, opts: PreprocessOptions): Float32Array {
  const padded = opts.mode === 'targetpad' ? targetPad(img, opts.targetRatio) : img;
  const side = opts.resizeSize ?? opts.size;
  const { width: w, height: h } = padded;
  const long = Math.trunc((side * Math.max(w, h)) / Math.min(w, h));
  const r = refResize(padded, w <= h ? side : long, w <= h ? long : side);
  const size = opts.size;
  const offset = (len: number) => (size > len ? -Math.floor((size - len) / 2) : roundHalfEven((len - size) / 2));
  const left = offset(r.width), top = offset(r.height);
  const f = Math.fround;
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sx = x + left, sy = y + top;
        const inside = sx >= 0 && sx < r.width && sy >= 0 && sy < r.height;
        const v = inside ? r.data[(sy * r.width + sx) * 3 + c] : 0;
        out[(c * size + y) * size + x] = f(f(f(v / 255) - f(opts.mean[c])) / f(opts.std[c]));
      }
    }
  }
  return out;
}

/** Index of the first differing value, or -1; the lengths must match too. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

// ---- The resampler ----

const sizes: [number, number, number, number, string][] = [
  [64, 48, 37, 28, 'shrink both ways'],
  [17, 11, 40, 29, 'enlarge both ways'],
  [60, 20, 25, 47, 'down in x, up in y'],
  [41, 41, 41, 23, 'vertical pass only'],
  [41, 20, 32, 20, 'horizontal pass only'],
  [13, 7, 13, 7, 'no pass'],
  [400, 300, 7, 5, 'a 57× and 60× shrink: windows wider than the unrolled kernels'],
  [1, 1, 5, 3, 'one pixel'],
  [3, 2, 1, 1, 'to one pixel'],
];

for (const [w, h, ow, oh, what] of sizes) {
  test(`resize ${w}×${h} → ${ow}×${oh} (${what}): whole, windows and canvases equal the plain passes`, (t) => {
    const rng = new Rng(`${w} ${h} ${ow} ${oh}`);
    const img = randomRgb(w, h, w * 7919 + h);
    const ref = refResize(img, ow, oh);
    const full = resizeBicubicPil(img, ow, oh);
    t.deepEqual([full.width, full.height], [ow, oh]);
    t.is(firstDiff(full.data, ref.data), -1);
    for (let n = 0; n < 6; n++) {
      const x0 = rng.int(ow), y0 = rng.int(oh);
      const win = { x0, x1: x0 + 1 + rng.int(ow - x0), y0, y1: y0 + 1 + rng.int(oh - y0) };
      const part = resizeBicubicPil(img, ow, oh, win);
      t.deepEqual([part.width, part.height], [win.x1 - win.x0, win.y1 - win.y0]);
      t.is(firstDiff(part.data, slice(ref, win)), -1, JSON.stringify(win));
      // The image on a black canvas, read as zeros, against the canvas really built.
      const canvas = { width: w + rng.int(9), height: h + rng.int(9), left: 0, top: 0 };
      canvas.left = rng.int(canvas.width - w + 1);
      canvas.top = rng.int(canvas.height - h + 1);
      const built = new Uint8Array(canvas.width * canvas.height * 3);
      for (let y = 0; y < h; y++) built.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + canvas.top) * canvas.width + canvas.left) * 3);
      const refCanvas = refResize({ width: canvas.width, height: canvas.height, data: built }, ow, oh);
      const onCanvas = resizeBicubicPil(img, ow, oh, win, canvas);
      t.is(firstDiff(onCanvas.data, slice(refCanvas, win)), -1, JSON.stringify({ win, canvas }));
    }
  });
}

test('the resampler output is not trivially equal: one changed source pixel shows in the result', (t) => {
  const img = randomRgb(30, 20, 3);
  const before = resizeBicubicPil(img, 12, 9);
  img.data[(10 * 30 + 15) * 3 + 1] ^= 0x80;
  const after = resizeBicubicPil(img, 12, 9);
  t.not(firstDiff(before.data, after.data), -1);
  t.is(firstDiff(after.data, refResize(img, 12, 9).data), -1);
});

test('windows and canvases that do not fit are refused', (t) => {
  const img = randomRgb(8, 6, 1);
  for (const win of [{ x0: 0, x1: 11, y0: 0, y1: 4 }, { x0: 3, x1: 3, y0: 0, y1: 4 }, { x0: -1, x1: 2, y0: 0, y1: 4 }, { x0: 0, x1: 2, y0: 1.5, y1: 4 }]) {
    t.throws(() => resizeBicubicPil(img, 10, 4, win), { instanceOf: RangeError });
  }
  t.throws(() => resizeBicubicPil(img, 10, 4, undefined, { width: 9, height: 6, left: 2, top: 0 }), { instanceOf: RangeError });
  t.throws(() => resizeBicubicPil(img, 10, 4, undefined, { width: 8, height: 6, left: 0, top: -1 }), { instanceOf: RangeError });
});

// ---- preprocessRgb ----

const clip = (size: number, extra: Partial<PreprocessOptions> = {}): PreprocessOptions => ({
  mode: 'targetpad', size, mean: [...CLIP_MEAN], std: [...CLIP_STD], targetRatio: 1.25, ...extra,
});

const cases: [number, number, PreprocessOptions, string][] = [
  [640, 480, preprocessOptions({ imageSize: 224 }), 'a COCO-sized landscape, SEARLE targetpad'],
  [480, 640, preprocessOptions({ imageSize: 224 }), 'portrait, targetpad'],
  [333, 250, preprocessOptions({ imageSize: 224, mode: 'plain' }), 'landscape, plain (crop off both sides)'],
  [250, 333, clip(64, { mode: 'plain' }), 'portrait, plain'],
  [300, 300, clip(64), 'square'],
  [90, 80, clip(32), 'ratio below 1.25: no padding'],
  [101, 13, clip(32), 'a wide strip: heavy padding'],
  [13, 101, clip(32, { mode: 'plain' }), 'a tall strip, plain'],
  [5, 3, clip(32), 'tiny, enlarged'],
  [1, 1, clip(8), 'one pixel'],
  [97, 61, clip(32, { resizeSize: 40 }), 'resize larger than the crop'],
  [97, 61, clip(32, { resizeSize: 24 }), 'crop larger than the resized image: zero padded'],
  [61, 97, clip(32, { mode: 'plain', resizeSize: 27 }), 'crop larger, portrait, plain'],
  [48, 32, clip(32, { mode: 'plain' }), 'shorter side already the size: no vertical pass'],
];

for (const [w, h, opts, what] of cases) {
  test(`preprocessRgb ${w}×${h} → ${opts.size} (${what}) equals resize, crop, normalise`, (t) => {
    const img = randomRgb(w, h, w * 31 + h);
    const ours = preprocessRgb(img, opts);
    const ref = refPreprocess(img, opts);
    t.is(ours.length, 3 * opts.size * opts.size);
    t.is(firstDiff(ours, ref), -1);
  });
}

test('preprocessRgb sees a changed pixel inside the crop, and still equals the reference', (t) => {
  const img = randomRgb(97, 61, 9);
  const opts = clip(32, { mode: 'plain' });
  const before = preprocessRgb(img, opts);
  img.data[(30 * 97 + 48) * 3] ^= 0xff;
  const after = preprocessRgb(img, opts);
  t.not(firstDiff(before, after), -1);
  t.is(firstDiff(after, refPreprocess(img, opts)), -1);
});
