/**
 * Image file → 8-bit RGB pixels, with sharp (libvips). Chosen to match what SEARLE feeds CLIP,
 * `PIL.Image.open(f).convert('RGB')`, where it matters:
 *  - alpha is dropped, not composited (PIL's convert('RGB') discards it; palette images give their
 *    palette colours); grey and grey+alpha are replicated to three channels;
 *  - embedded ICC profiles are ignored (PIL does not colour-manage on convert);
 *  - 16-bit samples keep their high byte (PIL and libvips both shift right by 8);
 *  - animated GIF / WebP and multi-page TIFF: the first frame only.
 * One deliberate difference: the EXIF orientation is applied (PIL leaves it to exif_transpose),
 * because a photo lying on its side gives worse features and no caption describes it that way.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB interleaved, row-major, width·height·3 bytes. */
  data: Uint8Array;
}

export type ImageDecodeReason = 'missing' | 'empty' | 'unreadable' | 'too-large' | 'not-an-image';

/** A file that cannot become pixels; the message is one line and names the file. */
export class ImageDecodeError extends Error {
  readonly reason: ImageDecodeReason;
  readonly file: string;
  constructor(file: string, reason: ImageDecodeReason, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'ImageDecodeError';
    this.file = file;
    this.reason = reason;
  }
}

/**
 * Pillow refuses images over 2 × Image.MAX_IMAGE_PIXELS (2 × 89,478,485) pixels with
 * DecompressionBombError; the same bound here, checked by libvips from the header before decoding.
 */
export const DEFAULT_MAX_PIXELS = 178_956_970;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (width × height). */
  maxPixels?: number;
  /** Name used in error messages when `input` is a Buffer. */
  name?: string;
}

/** Decodes a file path or an encoded image buffer to RGB. Throws ImageDecodeError. */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions = {}): Promise<RgbImage> {
  const file = typeof input === 'string' ? input : opts.name ?? '<buffer>';
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(`maxPixels must be a positive integer, got ${maxPixels}`);
  }
  const bytes = typeof input === 'string' ? await readBytes(input) : input;
  if (bytes.length === 0) throw new ImageDecodeError(file, 'empty', 'empty file (0 bytes)');

  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(bytes, {
      limitInputPixels: maxPixels,
      // Truncated or corrupt pixel data is an error (PIL: "image file is truncated"), while
      // libjpeg's harmless warnings (extra bytes after the image) are not.
      failOn: 'error',
      autoOrient: true,
      ignoreIcc: true,
      pages: 1,
    })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw await classifySharpError(file, err, bytes, maxPixels);
  }
  return toRgb(raw.data, raw.info.width, raw.info.height, raw.info.channels, file);
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageDecodeError(path, 'missing', 'no such file');
    if (code === 'EISDIR') throw new ImageDecodeError(path, 'unreadable', 'is a directory, not an image file');
    if (code === 'EACCES') throw new ImageDecodeError(path, 'unreadable', 'permission denied');
    throw new ImageDecodeError(path, 'unreadable', `cannot read file (${code ?? oneLine(err)})`);
  }
}

async function classifySharpError(file: string, err: unknown, bytes: Buffer, maxPixels: number): Promise<ImageDecodeError> {
  const msg = oneLine(err);
  if (/pixel limit/i.test(msg)) {
    // The header alone gives the size, for a message that says by how much.
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => null);
    const size = meta?.width && meta?.height
      ? `${meta.width}×${meta.height} = ${(meta.width * meta.height).toLocaleString('en')} pixels`
      : 'the image';
    return new ImageDecodeError(file, 'too-large',
      `too many pixels: ${size} exceeds the limit of ${maxPixels.toLocaleString('en')} (decompression bomb guard)`);
  }
  if (/unsupported image format/i.test(msg)) {
    return new ImageDecodeError(file, 'not-an-image', 'not an image (unrecognised or unsupported format)');
  }
  return new ImageDecodeError(file, 'unreadable', `corrupt or truncated image: ${msg}`);
}

/** One line; libvips repeats its messages, so repeated parts are kept once. */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const parts = text.split(/\s*\n\s*/).map((p) => p.trim()).filter((p) => p !== '');
  return [...new Set(parts)].join('; ');
}

/** Interleaved 1–4 channel uint8 → RGB; alpha dropped, grey replicated. */
function toRgb(src: Buffer, width: number, height: number, channels: number, file: string): RgbImage {
  const n = width * height;
  if (channels === 3) {
    return { width, height, data: new Uint8Array(src.buffer, src.byteOffset, n * 3) };
  }
  const out = new Uint8Array(n * 3);
  if (channels === 1 || channels === 2) {
    for (let i = 0, p = 0, o = 0; i < n; i++, p += channels, o += 3) {
      const v = src[p];
      out[o] = v; out[o + 1] = v; out[o + 2] = v;
    }
  } else if (channels === 4) {
    for (let i = 0, p = 0, o = 0; i < n; i++, p += 4, o += 3) {
      out[o] = src[p]; out[o + 1] = src[p + 1]; out[o + 2] = src[p + 2];
    }
  } else {
    throw new ImageDecodeError(file, 'unreadable', `unsupported number of channels (${channels})`);
  }
  return { width, height, data: out };
}
