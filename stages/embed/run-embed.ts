/**
 * The embed stage: for each planned images part not yet embedded, decode its images (the next batch
 * decoding while the encoder runs the current one), encode them in batches and write a features part
 * plus an errors part with the same index. A bad image is recorded and the run goes on; an encoder
 * failure stops the stage with the part unwritten, to be redone on resume.
 */
import { availableParallelism } from 'node:os';
import * as images from '../../schemas/images.ts';
import * as features from '../../schemas/features.ts';
import { type ErrorRow, KIND as ERRORS_KIND } from '../../schemas/errors.ts';
import { type Provenance, isPartCurrent, partIdentity, readPart, readPartStats, removePartsWithout } from '../../schemas/part-io.ts';
import { readPlan, stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { type DecodedBatch, decodeBatch } from './reader.ts';
import type { EmbedOptions, EmbedSummary } from './types.ts';
import { writeEmbedPart } from './writer.ts';

export const DEFAULT_EMBED_BATCH = 32;

/** The images part's hash as ingest recorded it: the input fingerprint of the features part. */
function imagesPartHash(ingestDir: string, index: number): string {
  return String(readPartStats(ingestDir, images.KIND, index).partHash ?? '');
}

/** What the features part `index` is made from now: its images part (by content) and the options. */
function embedProvenance(runDir: string, index: number, given: EmbedOptions['provenance']): Provenance {
  return { ...given, inputs: { images: partIdentity(stageDir(runDir, 'ingest'), images.KIND, index) } };
}

/**
 * True when the features part `index` (and its errors part) is done, sound on disk and computed from
 * the current images part with the current options; a part that fails the check is redone (one log line).
 */
export function isEmbedPartDone(runDir: string, index: number, given?: EmbedOptions['provenance'], log?: (line: string) => void): boolean {
  const dir = stageDir(runDir, 'embed');
  if (!isPartCurrent(dir, features.KIND, index, { provenance: embedProvenance(runDir, index, given) }, log)) return false;
  if (!isPartCurrent(dir, ERRORS_KIND, index, {}, log)) return false;
  return readPartStats(dir, features.KIND, index).inputHash === imagesPartHash(stageDir(runDir, 'ingest'), index);
}

export async function runEmbed(opts: EmbedOptions): Promise<EmbedSummary> {
  const t0 = performance.now();
  const batchSize = opts.batchSize ?? DEFAULT_EMBED_BATCH;
  const concurrency = opts.concurrency ?? availableParallelism();
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`--batch-size must be a positive integer, got ${batchSize}`);
  const plan = readPlan(opts.runDir);
  if (!plan) throw new UserError(`${opts.runDir}: no ingest plan (run ingest first)`);
  const ingestDir = stageDir(opts.runDir, 'ingest');
  const outDir = stageDir(opts.runDir, 'embed');
  const { dim, imageSize } = opts.imageEncoder;
  const pixelCount = 3 * imageSize * imageSize;
  const metadata = { ...opts.metadata, 'starword.stage': 'embed' };

  const summary: EmbedSummary = {
    parts: plan.parts, partsSkipped: 0, images: plan.images, processed: 0, embedded: 0, failed: 0,
    read_s: 0, compute_s: 0, write_s: 0, seconds: 0,
  };
  // parts beyond the plan (a replan with fewer parts) are not this run's
  removePartsWithout(outDir, [features.KIND, ERRORS_KIND], Array.from({ length: plan.parts }, (_, i) => i), opts.log);
  const todo: number[] = [];
  let doneImages = 0;
  for (let p = 0; p < plan.parts; p++) {
    if (isEmbedPartDone(opts.runDir, p, opts.provenance, opts.log)) {
      summary.partsSkipped++;
      doneImages += Number(readPartStats(outDir, features.KIND, p).inputRows ?? 0);
    } else {
      todo.push(p);
    }
  }
  opts.progress?.start(plan.images, doneImages);
  try {
    for (const p of todo) {
      const tRead = performance.now();
      const rows = images.fromTable(readPart(ingestDir, images.KIND, p));
      const inputHash = imagesPartHash(ingestDir, p);
      let read_s = (performance.now() - tRead) / 1000;
      let compute_s = 0;
      const featureRows: features.FeatureRow[] = [];
      const failed: ErrorRow[] = [];

      const batches: images.ImageRow[][] = [];
      for (let i = 0; i < rows.length; i += batchSize) batches.push(rows.slice(i, i + batchSize));
      const decode = (b: number): Promise<DecodedBatch> => decodeBatch(batches[b], opts.preprocess, concurrency, pixelCount);
      let pending: Promise<DecodedBatch> | null = batches.length > 0 ? decode(0) : null;
      for (let b = 0; b < batches.length; b++) {
        const tWait = performance.now();
        const batch = await (pending as Promise<DecodedBatch>);
        read_s += (performance.now() - tWait) / 1000;
        // Overlap: the next batch decodes while this one is in the encoder.
        pending = b + 1 < batches.length ? decode(b + 1) : null;
        failed.push(...batch.failed);
        if (batch.ok.length > 0) {
          const tCompute = performance.now();
          const out = await opts.imageEncoder.encodePixels(batch.ok.map((x) => x.pixels));
          compute_s += (performance.now() - tCompute) / 1000;
          if (out.length !== batch.ok.length) throw new Error(`image encoder returned ${out.length} rows for ${batch.ok.length} images`);
          batch.ok.forEach(({ row }, i) => {
            if (out[i].length !== dim) throw new Error(`image encoder returned ${out[i].length} values, declared dim ${dim}`);
            if (out[i].some((v) => !Number.isFinite(v))) {
              failed.push({ imageId: row.imageId, path: row.path, stage: 'embed', code: 'non-finite', reason: 'image features hold NaN or infinity' });
            } else {
              featureRows.push({ imageId: row.imageId, features: out[i] });
            }
          });
        }
        opts.progress?.increment(batches[b].length);
      }
      // Failures in plan order, whichever phase found them.
      const order = new Map(rows.map((r, i) => [r.imageId, i]));
      failed.sort((a, b) => (order.get(a.imageId) ?? 0) - (order.get(b.imageId) ?? 0));

      const stats = await writeEmbedPart(outDir, {
        index: p, inputHash, dim, rows: featureRows, failed, metadata, provenance: embedProvenance(opts.runDir, p, opts.provenance),
      }, { read_s, compute_s });
      summary.processed += rows.length;
      summary.embedded += featureRows.length;
      summary.failed += failed.length;
      summary.read_s += read_s;
      summary.compute_s += compute_s;
      summary.write_s += Number(stats.write_s);
    }
  } finally {
    opts.progress?.stop();
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
