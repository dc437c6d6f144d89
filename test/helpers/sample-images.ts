/**
 * The demo's sample images, generated (nothing to download): simple scenes of coloured shapes drawn as
 * SVG and encoded by sharp in several formats and sizes, plus three broken files that the pipeline must
 * record as failures and go past (a truncated JPEG, a zero-byte PNG, a text file named .jpg).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../util/rng.ts';

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

function scene(rng: Rng, w: number, h: number): string {
  const bg = COLOURS[rng.int(COLOURS.length)];
  const shapes: string[] = [];
  for (let k = 0; k < 3 + rng.int(5); k++) {
    const c = COLOURS[rng.int(COLOURS.length)];
    const x = rng.int(w), y = rng.int(h), s = 10 + rng.int(Math.min(w, h) / 2);
    switch (rng.int(3)) {
      case 0: shapes.push(`<circle cx="${x}" cy="${y}" r="${s / 2}" fill="${c}"/>`); break;
      case 1: shapes.push(`<rect x="${x - s / 2}" y="${y - s / 2}" width="${s}" height="${s * 0.7}" fill="${c}"/>`); break;
      default: shapes.push(`<polygon points="${x},${y - s / 2} ${x + s / 2},${y + s / 2} ${x - s / 2},${y + s / 2}" fill="${c}"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="${bg}" opacity="0.35"/>${shapes.join('')}</svg>`;
}

/** Writes `count` good images and three broken ones into `dir`; returns the good and broken counts. */
export async function writeSampleImages(dir: string, count: number, seed = 0): Promise<{ good: number; broken: number }> {
  await mkdir(dir, { recursive: true });
  const rng = new Rng(seed);
  const formats = ['jpg', 'png', 'webp'] as const;
  for (let i = 0; i < count; i++) {
    const w = 96 + rng.int(320), h = 96 + rng.int(320);
    const fmt = formats[i % formats.length];
    const img = sharp(Buffer.from(scene(rng, w, h)));
    const out = fmt === 'jpg' ? img.jpeg({ quality: 85 }) : fmt === 'png' ? img.png() : img.webp();
    await out.toFile(join(dir, `sample-${String(i).padStart(3, '0')}.${fmt}`));
  }
  const jpeg = await sharp(Buffer.from(scene(rng, 200, 150))).jpeg().toBuffer();
  await writeFile(join(dir, 'broken-truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  await writeFile(join(dir, 'broken-empty.png'), new Uint8Array(0));
  await writeFile(join(dir, 'broken-not-an-image.jpg'), 'this is a text file, not a JPEG\n');
  return { good: count, broken: 3 };
}
