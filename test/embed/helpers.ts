/** Test helpers for the embed stage: a deterministic stand-in image encoder and generated image folders. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ImageEncoder } from '../../clip/towers/encoder-types.ts';
import { tempDir } from '../helpers/test-utils.ts';

/** Features = per-channel means, then their sum, then the call's batch size (so batching shows). */
export class FakeImageEncoder implements ImageEncoder {
  readonly dim = 5;
  calls = 0;
  images = 0;
  constructor(readonly imageSize = 8) {}
  async encodePixels(pixels: Float32Array[]): Promise<Float32Array[]> {
    this.calls++;
    this.images += pixels.length;
    const plane = this.imageSize * this.imageSize;
    return pixels.map((p) => {
      const out = new Float32Array(this.dim);
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = 0; i < plane; i++) s += p[c * plane + i];
        out[c] = s / plane;
      }
      out[3] = out[0] + out[1] + out[2];
      out[4] = 1;
      return out;
    });
  }
}


/**
 * `good` valid images (PNG and JPEG, various sizes and colours) under `dir/imgs/` and a sub-folder,
 * plus a corrupt PNG, a zero-byte JPEG and a text file named .png. Returns the ids of each group.
 */
export async function makeImageFolder(dir: string, good = 10): Promise<{ good: string[]; bad: string[] }> {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < good; i++) {
    const id = i % 3 === 0 ? `sub/img${i}.jpg` : `img${i}.png`;
    const img = sharp({ create: { width: 10 + i, height: 12 + 2 * i, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: 200 - i } } });
    await (id.endsWith('.jpg') ? img.jpeg() : img.png()).toFile(join(dir, id));
    ids.push(id);
  }
  const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).png().toBuffer();
  writeFileSync(join(dir, 'corrupt.png'), png.subarray(0, 40));
  writeFileSync(join(dir, 'empty.jpg'), '');
  writeFileSync(join(dir, 'notes.png'), 'this is not an image\n');
  return { good: ids.sort(), bad: ['corrupt.png', 'empty.jpg', 'notes.png'] };
}

/** The one temporary-folder helper (test/helpers/test-utils.ts), re-exported for this folder's tests. */
export { tempDir };
