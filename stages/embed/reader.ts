/**
 * The reader: one batch of images → pixels, decoded with bounded concurrency. A file that cannot be
 * decoded becomes an errors row with its category; nothing here throws for a bad image, so a batch
 * decoding in the background never leaves an unhandled rejection.
 */
import type { ErrorRow } from '../../schemas/errors.ts';
import type { ImageRow } from '../../schemas/images.ts';
import { errorMessage } from '../../util/errors.ts';
import { mapLimit } from './map-limit.ts';
import type { PreprocessFn } from './types.ts';

export interface DecodedBatch {
  ok: { row: ImageRow; pixels: Float32Array }[];
  failed: ErrorRow[];
}

/** ImageDecodeError carries a `reason` category; anything else is a plain 'error'. */
export function errorCode(err: unknown): string {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && /^[a-z-]+$/.test(reason) ? reason : 'error';
}

export async function decodeBatch(rows: readonly ImageRow[], preprocess: PreprocessFn, concurrency: number,
  pixelCount: number): Promise<DecodedBatch> {
  const results = await mapLimit(rows, concurrency, async (row) => {
    try {
      const pixels = await preprocess(row.path);
      if (pixels.length !== pixelCount) {
        return { row, error: { code: 'bad-pixels', reason: `preprocessing gave ${pixels.length} values, the encoder takes ${pixelCount}` } };
      }
      return { row, pixels };
    } catch (err) {
      return { row, error: { code: errorCode(err), reason: errorMessage(err) } };
    }
  });
  const batch: DecodedBatch = { ok: [], failed: [] };
  for (const r of results) {
    if ('pixels' in r && r.pixels) batch.ok.push({ row: r.row, pixels: r.pixels });
    else if ('error' in r && r.error) {
      batch.failed.push({ imageId: r.row.imageId, path: r.row.path, stage: 'embed', ...r.error });
    }
  }
  return batch;
}
