/**
 * Pillow's antialiased BICUBIC resize (Image.resize(size, Image.BICUBIC) on an 8-bit RGB image),
 * reproduced bit for bit: torchvision's Resize and Hugging Face's CLIP processor both call it, and
 * CLIP features move when the pixels do. The algorithm (Pillow src/libImaging/Resample.c):
 *  - separable, horizontal pass first, then vertical; a pass is skipped when its size is unchanged;
 *  - when shrinking, the kernel is widened by the scale factor (support = 2 · max(scale, 1));
 *  - per output pixel, a window of input pixels [min, min + count) with weights computed in double,
 *    normalised to sum 1, then turned into 22-bit fixed-point integers (round half away from 0);
 *  - accumulate from 2^21 (for rounding), shift right by 22 and clamp to 0..255, so the image between
 *    the passes is uint8 again;
 *  - the horizontal pass only runs over the rows the vertical pass will read.
 */
import type { RgbImage } from './image-decode.ts';

/** Pillow: 32 bits minus 8 for the pixel, minus 2 for the overflow of negative lobes. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Keys' cubic with a = -0.5 (Pillow's bicubic_filter). */
export function bicubicWeight(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Per output index: first input index, number of taps, and `ksize` fixed-point weights. */
export interface ResampleTable {
  outSize: number;
  ksize: number;
  starts: Int32Array;
  counts: Int32Array;
  weights: Int32Array;
}

/**
 * Window bounds and weights per output index: Pillow's precompute_coeffs for the whole-image box
 * (weights in double, normalised to sum 1), then normalize_coeffs_8bpc (22-bit fixed point).
 */
export function resampleTable(inSize: number, outSize: number): ResampleTable {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const invScale = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; Pillow then clamps to the image.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    const count = xmax - xmin;
    let sum = 0;
    for (let x = 0; x < count; x++) {
      w[x] = bicubicWeight((x + xmin - center + 0.5) * invScale);
      sum += w[x];
    }
    const base = xx * ksize;
    for (let x = 0; x < count; x++) {
      const k = sum !== 0 ? w[x] / sum : w[x];
      weights[base + x] = Math.trunc(k < 0 ? -0.5 + k * ONE : 0.5 + k * ONE);
    }
    starts[xx] = xmin;
    counts[xx] = count;
  }
  return { outSize, ksize, starts, counts, weights };
}

/** Pillow's clip8: the accumulator is an int32 in C; `>>` floors like its arithmetic shift. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over input rows [rowFirst, rowFirst + rows) of an RGB image. */
function resampleRows(src: Uint8Array, srcWidth: number, rowFirst: number, rows: number, t: ResampleTable): Uint8Array {
  const outW = t.outSize;
  const out = new Uint8Array(outW * rows * 3);
  const { starts, counts, weights, ksize } = t;
  for (let y = 0; y < rows; y++) {
    const rowBase = (rowFirst + y) * srcWidth * 3;
    const outBase = y * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const kBase = xx * ksize;
      const n = counts[xx];
      let p = rowBase + starts[xx] * 3;
      let r = HALF, g = HALF, b = HALF;
      for (let i = 0; i < n; i++, p += 3) {
        const k = weights[kBase + i];
        // An int32 accumulator like Pillow's (255 · Σ|k| stays well inside it); imul keeps V8 on ints.
        r = (r + Math.imul(src[p], k)) | 0;
        g = (g + Math.imul(src[p + 1], k)) | 0;
        b = (b + Math.imul(src[p + 2], k)) | 0;
      }
      const o = outBase + xx * 3;
      out[o] = clip8(r); out[o + 1] = clip8(g); out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** Vertical pass; `rowOffset` is the first source row held in `src`. */
function resampleColumns(src: Uint8Array, width: number, rowOffset: number, t: ResampleTable): Uint8Array {
  const outH = t.outSize;
  const stride = width * 3;
  const out = new Uint8Array(stride * outH);
  const { starts, counts, weights, ksize } = t;
  for (let yy = 0; yy < outH; yy++) {
    const kBase = yy * ksize;
    const n = counts[yy];
    const first = (starts[yy] - rowOffset) * stride;
    const outBase = yy * stride;
    for (let c = 0; c < stride; c++) {
      let acc = HALF;
      let p = first + c;
      for (let i = 0; i < n; i++, p += stride) acc = (acc + Math.imul(src[p], weights[kBase + i])) | 0;
      out[outBase + c] = clip8(acc);
    }
  }
  return out;
}

/** Resizes an RGB image exactly as Pillow's `Image.resize((width, height), Image.BICUBIC)`. */
export function resizeBicubicPil(img: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize target must be positive integers, got ${width}×${height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`RGB buffer holds ${img.data.length} bytes, expected ${img.width}×${img.height}×3`);
  }
  const needH = width !== img.width;
  const needV = height !== img.height;
  if (!needH && !needV) return { width, height, data: img.data.slice() };

  let data = img.data;
  let rowOffset = 0;
  const vTable = needV ? resampleTable(img.height, height) : null;
  if (needH) {
    // Only the rows the vertical pass reads (all of them when it does not run).
    let first = 0, last = img.height;
    if (vTable) {
      first = vTable.starts[0];
      last = vTable.starts[height - 1] + vTable.counts[height - 1];
    }
    data = resampleRows(data, img.width, first, last - first, resampleTable(img.width, width));
    rowOffset = first;
  }
  if (vTable) data = resampleColumns(data, width, rowOffset, vTable);
  return { width, height, data };
}
