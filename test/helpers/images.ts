/** Test images made on the fly with sharp, so no binary fixtures are needed beyond the golden one. */
import { rm, writeFile } from 'node:fs/promises';

import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from '../../clip/image/image-decode.ts';
import { Rng } from '../../util/rng.ts';
import { tempDir as sharedTempDir } from './test-utils.ts';

/** A fresh temporary folder and a function that removes it. */
export async function tempDir(prefix = 'starword-img-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = sharedTempDir(prefix);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Uniform random RGB pixels from a seed. */
export function randomRgb(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, data };
}

/** Pixels from a function of (x, y) → [r, g, b]. */
export function rgbFrom(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  }
  return { width, height, data };
}

/** Raw interleaved 8-bit pixels (1–4 channels) as a sharp pipeline. */
export function rawSharp(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4): Sharp {
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels } });
}

/** An RGB image encoded losslessly where the format allows it. */
export function encodeRgb(img: RgbImage, format: 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff' | 'avif'): Promise<Buffer> {
  const s = rawSharp(img.data, img.width, img.height, 3);
  switch (format) {
    case 'png': return s.png().toBuffer();
    case 'jpeg': return s.jpeg({ quality: 95 }).toBuffer();
    case 'gif': return s.gif().toBuffer();
    case 'webp': return s.webp({ lossless: true }).toBuffer();
    case 'tiff': return s.tiff({ compression: 'lzw' }).toBuffer();
    case 'avif': return s.avif({ lossless: true }).toBuffer();
  }
}

export async function writeTemp(dir: string, name: string, bytes: Buffer | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** Largest absolute difference between two equally long numeric arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
