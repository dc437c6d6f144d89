/**
 * CLIP image preprocessing, exact to the Python reference:
 *  - 'targetpad' (SEARLE's TargetPad, ratio 1.25): an image whose long/short side ratio reaches the
 *    target ratio is padded with black, left/right by hp and top/bottom by vp, where
 *    hp = max(int((max(w, h) / ratio − w) / 2), 0) and vp likewise, then as 'plain';
 *  - 'plain' (CLIP's own transform, SEARLE's 'clip'): torchvision Resize(size, BICUBIC) — shorter
 *    side to size, longer side int(size · long / short), Pillow's resampler — then CenterCrop(size)
 *    at offset round((len − size) / 2) with Python's half-to-even round, ToTensor, Normalize.
 * The arithmetic after the crop is float32, as in torch, so the output matches to the last bit.
 * Note: Hugging Face's CLIPImageProcessor crops at floor((len − size) / 2); it differs from
 * torchvision only when len − size is 2 mod 4, by one pixel.
 */
import { UserError } from '../../util/errors.ts';
import { decodeImage, type DecodeOptions, type RgbImage } from './image-decode.ts';
import { resizeBicubicPil, type Canvas } from './resample-pil.ts';

export type PreprocessMode = 'targetpad' | 'plain';

export interface PreprocessOptions {
  mode: PreprocessMode;
  /** Output side (the centre crop), pixels. */
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** TargetPad's ratio (SEARLE: 1.25); unused in 'plain' mode. */
  targetRatio: number;
  /** Shorter side after the resize; defaults to `size` (CLIP resizes and crops to the same side). */
  resizeSize?: number;
}

/** OpenAI CLIP's normalisation, which SEARLE and HF's CLIP checkpoints use. */
export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** SEARLE's default TargetPad ratio. */
export const SEARLE_TARGET_RATIO = 1.25;

/**
 * Options for a model: sizes and mean/std from its preprocessor_config.json when given (crop_size,
 * size.shortest_edge, image_mean, image_std), else CLIP's defaults at the vision config's image size.
 */
export function preprocessOptions(args: {
  imageSize: number;
  preprocessorConfig?: Record<string, unknown> | null;
  mode?: PreprocessMode;
  targetRatio?: number;
}): PreprocessOptions {
  const source = 'preprocessor_config.json';
  const mode = args.mode ?? 'targetpad';
  if (mode !== 'targetpad' && mode !== 'plain') {
    throw new UserError(`unknown preprocessing mode "${String(mode)}" (expected targetpad or plain)`);
  }
  const targetRatio = args.targetRatio ?? SEARLE_TARGET_RATIO;
  if (!(Number.isFinite(targetRatio) && targetRatio > 0)) {
    throw new UserError(`target ratio must be a positive number, got ${targetRatio}`);
  }
  let size = positiveInt(args.imageSize, 'image size');
  let resizeSize = size;
  let mean = CLIP_MEAN, std = CLIP_STD;
  const cfg = args.preprocessorConfig;
  if (cfg) {
    if (cfg.resample !== undefined && cfg.resample !== 3) {
      throw new UserError(`${source}: resample ${String(cfg.resample)} is not supported (only 3, bicubic)`);
    }
    const crop = sideOf(cfg.crop_size, `${source}: crop_size`, true);
    const resize = sideOf(cfg.size, `${source}: size`, false);
    if (crop !== undefined) size = crop;
    resizeSize = resize ?? size;
    if (crop === undefined && resize !== undefined) size = resize;
    if (cfg.image_mean !== undefined) mean = triple(cfg.image_mean, `${source}: image_mean`, false);
    if (cfg.image_std !== undefined) std = triple(cfg.image_std, `${source}: image_std`, true);
  }
  const opts: PreprocessOptions = { mode, size, mean: [...mean], std: [...std], targetRatio };
  if (resizeSize !== size) opts.resizeSize = resizeSize;
  return opts;
}

/** Decodes and preprocesses one image file or buffer to a 3×size×size CHW Float32Array. */
export async function preprocessImage(
  input: string | Buffer, opts: PreprocessOptions, decodeOpts?: DecodeOptions,
): Promise<Float32Array> {
  return preprocessRgb(await decodeImage(input, decodeOpts), opts);
}

/** Preprocesses decoded RGB pixels to a normalised 3×size×size CHW Float32Array. */
export function preprocessRgb(img: RgbImage, opts: PreprocessOptions): Float32Array {
  // TargetPad's canvas is read by the resize as black around the image, not built.
  const canvas = opts.mode === 'targetpad' ? padCanvas(img, opts.targetRatio)
    : { width: img.width, height: img.height, left: 0, top: 0 };
  const { size } = opts;
  const [newW, newH] = shorterSideSize(canvas.width, canvas.height, opts.resizeSize ?? size);
  const left = cropOffset(newW, size), top = cropOffset(newH, size);
  // Resize only what the crop keeps; where the crop is larger than the image (padding), all of it.
  const x0 = Math.max(left, 0), y0 = Math.max(top, 0);
  const win = { x0, x1: Math.min(left + size, newW), y0, y1: Math.min(top + size, newH) };
  const kept = resizeBicubicPil(img, newW, newH, win, canvas);
  return cropNormalize(kept, size, left - x0, top - y0, opts.mean, opts.std);
}

/**
 * SEARLE's TargetPad geometry: black borders that bring the aspect ratio down towards `ratio`,
 * hp = max(int((long / ratio − w) / 2), 0) left and right, vp likewise top and bottom.
 */
function padCanvas(img: RgbImage, ratio: number): Canvas {
  const { width: w, height: h } = img;
  const long = Math.max(w, h);
  if (long / Math.min(w, h) < ratio) return { width: w, height: h, left: 0, top: 0 };
  const scaledLong = long / ratio;
  // Python's int() truncates toward zero; SEARLE clamps negative padding to 0.
  const hp = Math.max(Math.trunc((scaledLong - w) / 2), 0);
  const vp = Math.max(Math.trunc((scaledLong - h) / 2), 0);
  return { width: w + 2 * hp, height: h + 2 * vp, left: hp, top: vp };
}

/** SEARLE's TargetPad: the image on its black canvas. */
export function targetPad(img: RgbImage, ratio: number): RgbImage {
  const c = padCanvas(img, ratio);
  if (c.left === 0 && c.top === 0) return img;
  const data = new Uint8Array(c.width * c.height * 3);
  const rowBytes = img.width * 3;
  for (let y = 0; y < img.height; y++) {
    const from = y * rowBytes;
    data.set(img.data.subarray(from, from + rowBytes), ((y + c.top) * c.width + c.left) * 3);
  }
  return { width: c.width, height: c.height, data };
}

/** torchvision Resize(int): shorter side → `side`, longer side truncated; Pillow bicubic. */
export function resizeShorterSide(img: RgbImage, side: number): RgbImage {
  const [newW, newH] = shorterSideSize(img.width, img.height, side);
  return resizeBicubicPil(img, newW, newH);
}

function shorterSideSize(w: number, h: number, side: number): [number, number] {
  const newLong = Math.trunc((side * Math.max(w, h)) / Math.min(w, h));
  return w <= h ? [side, newLong] : [newLong, side];
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision's CenterCrop offset; a side shorter than the crop is zero-padded around the centre. */
function cropOffset(len: number, crop: number): number {
  if (crop > len) return -Math.floor((crop - len) / 2);
  return roundHalfEven((len - crop) / 2);
}

/**
 * CenterCrop + ToTensor + Normalize, in float32 like torch: ((v / 255) − mean) / std. The crop starts
 * at (left, top) of `img`; a negative offset or a crop past the edge is zero padding.
 */
function cropNormalize(
  img: RgbImage, size: number, left: number, top: number, mean: readonly number[], std: readonly number[],
): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  // Per channel a 256-entry table: every uint8 value maps to one float32.
  const luts = [0, 1, 2].map((c) => {
    const m = f(mean[c]), s = f(std[c]);
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - m) / s);
    return lut;
  });
  const [l0, l1, l2] = luts;
  const xs = Math.max(0, -left), xe = Math.min(size, img.width - left);
  const ys = Math.max(0, -top), ye = Math.min(size, img.height - top);
  if (xs > 0 || ys > 0 || xe < size || ye < size) {
    for (let c = 0; c < 3; c++) out.fill(luts[c][0], c * plane, (c + 1) * plane);
  }
  const d = img.data;
  for (let y = ys; y < ye; y++) {
    let p = ((y + top) * img.width + xs + left) * 3;
    const oEnd = y * size + xe;
    for (let o = y * size + xs; o < oEnd; o++, p += 3) {
      out[o] = l0[d[p]];
      out[o + plane] = l1[d[p + 1]];
      out[o + 2 * plane] = l2[d[p + 2]];
    }
  }
  return out;
}

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new UserError(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * A side from HF's `224` or `{shortest_edge: 224}`; a crop may also be `{height: 224, width: 224}`
 * (square only). A resize to a fixed {height, width} distorts the aspect and is not CLIP's.
 */
function sideOf(v: unknown, what: string, isCrop: boolean): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return positiveInt(v, what);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o.shortest_edge !== undefined) return positiveInt(o.shortest_edge, `${what}.shortest_edge`);
    if (isCrop && (o.height !== undefined || o.width !== undefined)) {
      const hgt = positiveInt(o.height, `${what}.height`), wid = positiveInt(o.width, `${what}.width`);
      if (hgt !== wid) throw new UserError(`${what}: only square sizes are supported, got ${wid}×${hgt}`);
      return hgt;
    }
  }
  const shapes = isCrop ? 'a number, {shortest_edge} or {height, width}' : 'a number or {shortest_edge}';
  throw new UserError(`${what}: expected ${shapes}, got ${JSON.stringify(v)}`);
}

function triple(v: unknown, what: string, positive: boolean): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new UserError(`${what}: expected 3 numbers, got ${JSON.stringify(v)}`);
  }
  if (positive && !v.every((x: number) => x > 0)) throw new UserError(`${what}: values must be positive`);
  return [v[0], v[1], v[2]];
}
