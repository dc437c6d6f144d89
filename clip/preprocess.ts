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
import { UserError } from '../util/errors.ts';
import { decodeImage, type DecodeOptions, type RgbImage } from './image-decode.ts';
import { resizeBicubicPil } from './resample-pil.ts';

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
  const padded = opts.mode === 'targetpad' ? targetPad(img, opts.targetRatio) : img;
  const resized = resizeShorterSide(padded, opts.resizeSize ?? opts.size);
  return cropNormalize(resized, opts.size, opts.mean, opts.std);
}

/** SEARLE's TargetPad: black borders that bring the aspect ratio down towards `ratio`. */
export function targetPad(img: RgbImage, ratio: number): RgbImage {
  const { width: w, height: h } = img;
  const long = Math.max(w, h);
  if (long / Math.min(w, h) < ratio) return img;
  const scaledLong = long / ratio;
  // Python's int() truncates toward zero; SEARLE clamps negative padding to 0.
  const hp = Math.max(Math.trunc((scaledLong - w) / 2), 0);
  const vp = Math.max(Math.trunc((scaledLong - h) / 2), 0);
  if (hp === 0 && vp === 0) return img;
  const outW = w + 2 * hp, outH = h + 2 * vp;
  const data = new Uint8Array(outW * outH * 3);
  const rowBytes = w * 3;
  for (let y = 0; y < h; y++) {
    const from = y * rowBytes;
    data.set(img.data.subarray(from, from + rowBytes), ((y + vp) * outW + hp) * 3);
  }
  return { width: outW, height: outH, data };
}

/** torchvision Resize(int): shorter side → `side`, longer side truncated; Pillow bicubic. */
export function resizeShorterSide(img: RgbImage, side: number): RgbImage {
  const { width: w, height: h } = img;
  const short = Math.min(w, h), long = Math.max(w, h);
  const newLong = Math.trunc((side * long) / short);
  const [newW, newH] = w <= h ? [side, newLong] : [newLong, side];
  return resizeBicubicPil(img, newW, newH);
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

/** CenterCrop + ToTensor + Normalize, in float32 like torch: ((v / 255) − mean) / std. */
function cropNormalize(img: RgbImage, size: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const left = cropOffset(img.width, size), top = cropOffset(img.height, size);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]), s = f(std[c]);
    // A 256-entry table: every uint8 value maps to one float32.
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - m) / s);
    const outside = lut[0];
    for (let y = 0; y < size; y++) {
      const sy = y + top;
      const rowOut = c * plane + y * size;
      for (let x = 0; x < size; x++) {
        const sx = x + left;
        out[rowOut + x] = sy < 0 || sy >= img.height || sx < 0 || sx >= img.width
          ? outside
          : lut[img.data[(sy * img.width + sx) * 3 + c]];
      }
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
