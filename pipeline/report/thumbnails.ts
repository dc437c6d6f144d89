/**
 * Thumbnails for the report: each image once, made by sharp at one fixed small size and written as a
 * JPEG beside the HTML (thumbs/), so the report's size grows with --sample, never with the run.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { sha256 } from '../../util/hash.ts';

export const THUMB_SIZE = 96;

export class Thumbnails {
  private readonly made = new Map<string, Promise<string | null>>();
  failed = 0;

  constructor(private readonly outDir: string, private readonly size = THUMB_SIZE) {}

  /** The thumbnail's path relative to the report, or null when the image cannot be read. */
  of(imagePath: string | null | undefined): Promise<string | null> {
    if (!imagePath) return Promise.resolve(null);
    let p = this.made.get(imagePath);
    if (!p) {
      p = this.make(imagePath);
      this.made.set(imagePath, p);
    }
    return p;
  }

  get count(): number { return this.made.size; }

  private async make(imagePath: string): Promise<string | null> {
    const rel = `thumbs/${sha256(imagePath).slice(0, 16)}.jpg`;
    try {
      await mkdir(join(this.outDir, 'thumbs'), { recursive: true });
      await sharp(imagePath, { failOn: 'error' })
        .rotate()
        .resize(this.size, this.size, { fit: 'contain', background: { r: 255, g: 255, b: 255 } })
        .flatten({ background: { r: 255, g: 255, b: 255 } })
        .jpeg({ quality: 82 })
        .toFile(join(this.outDir, rel));
      return rel;
    } catch {
      // a broken image is already in the run's errors; the report shows a placeholder
      this.failed++;
      return null;
    }
  }
}
