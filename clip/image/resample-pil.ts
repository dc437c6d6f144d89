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
 * Each output pixel depends only on its own window, and an int32 sum does not depend on the order of
 * its terms nor on added zero terms, so what is done here for speed changes no bit: only a window of
 * the output is computed when asked, a black canvas around the image is read as zero taps (dropped)
 * instead of being built, a pass whose size is unchanged runs as the identity (one tap of weight 1.0:
 * exactly Pillow's skip), and the inner loops are generated per tap count, unrolled.
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

/** Tables for the last few sizes: every image of a run usually has the same size. */
const tableCache = new Map<string, ResampleTable>();

/**
 * Pillow's windows and weights over a canvas of `inSize` that holds the image at `offset`, `extent`
 * long, black elsewhere: taps on the black add nothing and are dropped, and starts count from the
 * image's first pixel. A window on black only keeps one tap of weight 0 (its output is 0, as Pillow's).
 */
function canvasTable(inSize: number, outSize: number, offset: number, extent: number): ResampleTable {
  const key = `${inSize} ${outSize} ${offset} ${extent}`;
  let t = tableCache.get(key);
  if (t) return t;
  t = inSize === outSize ? identityTable(inSize) : resampleTable(inSize, outSize);
  const { starts, counts, weights, ksize } = t;
  for (let i = 0; i < outSize; i++) {
    const lo = Math.max(starts[i], offset);
    const hi = Math.min(starts[i] + counts[i], offset + extent);
    const row = weights.subarray(i * ksize, (i + 1) * ksize);
    if (hi <= lo) {
      row.fill(0);
      starts[i] = Math.min(lo - offset, extent - 1);
      counts[i] = 1;
    } else {
      row.copyWithin(0, lo - starts[i], hi - starts[i]);
      starts[i] = lo - offset;
      counts[i] = hi - lo;
    }
  }
  if (tableCache.size >= 32) tableCache.clear();
  tableCache.set(key, t);
  return t;
}

function identityTable(size: number): ResampleTable {
  const starts = Int32Array.from({ length: size }, (_, i) => i);
  return { outSize: size, ksize: 1, starts, counts: new Int32Array(size).fill(1), weights: new Int32Array(size).fill(ONE) };
}

/*
 * The passes' inner loops, generated per tap count: the weights sit in locals and each output value
 * is one straight-line sum, which V8 runs ~1.5× faster than a loop over the taps. The source is built
 * from integers only. Each term is below 2^31 in magnitude, so a sum of up to MAX_UNROLLED_TAPS + 1
 * terms is exact in a double, and `>> 22` takes it mod 2^32 as C's int32 sum would; storing into the
 * clamped `out` then clips to 0..255 (Pillow's clip8). Wider windows use loopKernel.
 */
const MAX_UNROLLED_TAPS = 32;

/** Horizontal: one output column over `rows` rows; `p`, `o` are its first pixel's offsets in and out. */
type ColumnKernel = (
  src: Uint8Array, out: Uint8ClampedArray, rows: number, srcStride: number, outStride: number,
  p: number, o: number, w: Int32Array, kBase: number,
) => void;
/** Vertical: `n` bytes of one output row, whose first tap row starts at `p`. */
type RowKernel = (
  src: Uint8Array, out: Uint8ClampedArray, n: number, p: number, stride: number, o: number, w: Int32Array, kBase: number,
) => void;

const columnKernels = new Map<number, ColumnKernel>();
const rowKernels = new Map<number, RowKernel>();
const weightLocals = (taps: number) => Array.from({ length: taps }, (_, i) => `k${i} = w[kBase + ${i}]`).join(', ');
const sumOf = (taps: number, term: (i: number) => string) =>
  `(${HALF} + ${Array.from({ length: taps }, (_, i) => `Math.imul(${term(i)}, k${i})`).join(' + ')}) >> ${PRECISION_BITS}`;

function columnKernel(taps: number): ColumnKernel {
  let kernel = columnKernels.get(taps);
  if (!kernel) {
    const channel = (c: number) => sumOf(taps, (i) => `src[p + ${3 * i + c}]`);
    kernel = new Function('src', 'out', 'rows', 'srcStride', 'outStride', 'p', 'o', 'w', 'kBase', `const ${weightLocals(taps)};
for (let y = 0; y < rows; y++, p += srcStride, o += outStride) {
  out[o] = ${channel(0)};
  out[o + 1] = ${channel(1)};
  out[o + 2] = ${channel(2)};
}`) as ColumnKernel;
    columnKernels.set(taps, kernel);
  }
  return kernel;
}

function rowKernel(taps: number): RowKernel {
  let kernel = rowKernels.get(taps);
  if (!kernel) {
    const offsets = Array.from({ length: taps }, (_, i) => `d${i} = ${i} * stride`).join(', ');
    kernel = new Function('src', 'out', 'n', 'p', 'stride', 'o', 'w', 'kBase', `const ${weightLocals(taps)};
const ${offsets};
for (let end = o + n; o < end; o++, p++) out[o] = ${sumOf(taps, (i) => `src[p + d${i}]`)};`) as RowKernel;
    rowKernels.set(taps, kernel);
  }
  return kernel;
}

/** The kernels' arithmetic with a loop over the taps: `n` outputs, taps `tStep` apart in `src`. */
function loopKernel(
  src: Uint8Array, out: Uint8ClampedArray, n: number, p: number, pStep: number, tStep: number,
  o: number, oStep: number, w: Int32Array, kBase: number, taps: number,
): void {
  for (let j = 0; j < n; j++, p += pStep, o += oStep) {
    let acc = HALF;
    // An int32 accumulator like Pillow's; imul keeps V8 on ints.
    for (let i = 0, q = p; i < taps; i++, q += tStep) acc = (acc + Math.imul(src[q], w[kBase + i])) | 0;
    out[o] = acc >> PRECISION_BITS;
  }
}

/** Horizontal pass over source rows [rowFirst, rowFirst + rows), output columns [x0, x1). */
function resampleRows(
  src: Uint8Array, srcWidth: number, rowFirst: number, rows: number, t: ResampleTable, x0: number, x1: number,
): Uint8Array {
  const outStride = (x1 - x0) * 3;
  const out = new Uint8ClampedArray(outStride * rows);
  const { starts, counts, weights, ksize } = t;
  const srcStride = srcWidth * 3;
  // A column at a time, so that its weights stay in registers for all the rows.
  for (let xx = x0; xx < x1; xx++) {
    const p = (rowFirst * srcWidth + starts[xx]) * 3, o = (xx - x0) * 3, kBase = xx * ksize, taps = counts[xx];
    if (taps <= MAX_UNROLLED_TAPS) columnKernel(taps)(src, out, rows, srcStride, outStride, p, o, weights, kBase);
    else for (let c = 0; c < 3; c++) loopKernel(src, out, rows, p + c, srcStride, 3, o + c, outStride, weights, kBase, taps);
  }
  return new Uint8Array(out.buffer);
}

/** Vertical pass for output rows [y0, y1) of rows `stride` bytes long; `src` starts at source row `rowFirst`. */
function resampleColumns(src: Uint8Array, stride: number, rowFirst: number, t: ResampleTable, y0: number, y1: number): Uint8Array {
  const out = new Uint8ClampedArray(stride * (y1 - y0));
  const { starts, counts, weights, ksize } = t;
  for (let yy = y0; yy < y1; yy++) {
    const p = (starts[yy] - rowFirst) * stride, o = (yy - y0) * stride, kBase = yy * ksize, taps = counts[yy];
    if (taps <= MAX_UNROLLED_TAPS) rowKernel(taps)(src, out, stride, p, stride, o, weights, kBase);
    else loopKernel(src, out, stride, p, 1, stride, o, 1, weights, kBase, taps);
  }
  return new Uint8Array(out.buffer);
}

/** Output columns [x0, x1) and rows [y0, y1) of a resize. */
export interface ResizeWindow {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** A black canvas of width × height with the image's top-left corner at (left, top). */
export interface Canvas {
  width: number;
  height: number;
  left: number;
  top: number;
}

/**
 * Resizes an RGB image exactly as Pillow's `Image.resize((width, height), Image.BICUBIC)`. With a
 * window, only that part of the result is computed and returned, bit-identical to slicing the full
 * one; with a canvas, what is resized is the image pasted on that black canvas (without copying it).
 */
export function resizeBicubicPil(img: RgbImage, width: number, height: number, win?: ResizeWindow, canvas?: Canvas): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize target must be positive integers, got ${width}×${height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`RGB buffer holds ${img.data.length} bytes, expected ${img.width}×${img.height}×3`);
  }
  const { x0, x1, y0, y1 } = win ?? { x0: 0, x1: width, y0: 0, y1: height };
  if (![x0, x1, y0, y1].every(Number.isInteger) || x0 < 0 || x1 > width || x0 >= x1 || y0 < 0 || y1 > height || y0 >= y1) {
    throw new RangeError(`resize window [${x0}, ${x1}) × [${y0}, ${y1}) is not inside ${width}×${height}`);
  }
  const c = canvas ?? { width: img.width, height: img.height, left: 0, top: 0 };
  if (![c.width, c.height, c.left, c.top].every(Number.isInteger) || c.left < 0 || c.top < 0
    || c.left + img.width > c.width || c.top + img.height > c.height) {
    throw new RangeError(`a ${img.width}×${img.height} image at (${c.left}, ${c.top}) does not fit a ${c.width}×${c.height} canvas`);
  }
  const hTable = canvasTable(c.width, width, c.left, img.width);
  const vTable = canvasTable(c.height, height, c.top, img.height);
  // The image rows the vertical pass reads for the window.
  let first = img.height, last = 0;
  for (let yy = y0; yy < y1; yy++) {
    first = Math.min(first, vTable.starts[yy]);
    last = Math.max(last, vTable.starts[yy] + vTable.counts[yy]);
  }
  const rows = resampleRows(img.data, img.width, first, last - first, hTable, x0, x1);
  const data = resampleColumns(rows, (x1 - x0) * 3, first, vTable, y0, y1);
  return { width: x1 - x0, height: y1 - y0, data };
}
