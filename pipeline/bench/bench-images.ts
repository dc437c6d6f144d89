/** JPEGs for `bench embed` when the user brings none: smooth colour fields with noise, 640×480 by default. */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../util/rng.ts';

export async function writeBenchJpegs(dir: string, count: number, width = 640, height = 480): Promise<string[]> {
  const { default: sharp } = await import('sharp');
  mkdirSync(dir, { recursive: true });
  const have = new Set(readdirSync(dir));
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `bench-${String(i).padStart(5, '0')}-${width}x${height}.jpg`;
    paths.push(join(dir, name));
    if (have.has(name)) continue;
    const rng = new Rng(1000 + i);
    const rand = () => rng.next();
    const px = Buffer.alloc(width * height * 3);
    const [r0, g0, b0] = [rand() * 255, rand() * 255, rand() * 255];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3, n = (rand() - 0.5) * 60;
        px[o] = Math.max(0, Math.min(255, r0 * (x / width) + n));
        px[o + 1] = Math.max(0, Math.min(255, g0 * (y / height) + n));
        px[o + 2] = Math.max(0, Math.min(255, b0 + n));
      }
    }
    await sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(dir, name));
  }
  return paths;
}
