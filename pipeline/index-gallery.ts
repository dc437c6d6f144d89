/**
 * `starword index --model DIR --images DIR|CSV --out DIR`: a gallery index for retrieval = the ingest and
 * embed stages on the gallery images. The index is a run folder; its embed/features-NNNNN.arrow parts
 * are what `retrieve` and `evaluate` read (`--index` takes the run folder). Resumable like any run:
 * rerunning redoes only the parts without their done marker.
 * (File named index-gallery.ts because pipeline/commands/index.ts is the command registry.)
 */
import { loadClipModel } from '../clip/weights.ts';
import { type Device } from './options.ts';
import { underLock } from './run-manifest.ts';
import { embedStage, ingestStage, preprocessMode } from './stage-runners/embed.ts';

export interface Options {
  model: string; images: string; out: string; partSize: number; batchSize: number; preprocess: string;
  threads?: number; device: Device; cacheDir?: string; allowOutside?: boolean; force?: boolean; logJson?: boolean;
}

export async function runIndex(opts: Options): Promise<void> {
  preprocessMode(opts.preprocess);
  const model = await loadClipModel(opts.model);
  const { lock } = underLock(opts.out, 'index', () => undefined); // one writer of the index folder
  const ingest = await ingestStage(opts.images, opts.out, { index: 0, count: 1 }, { ...opts, device: undefined });
  const summary = await embedStage(opts.out, model, { ...opts, device: opts.device as Device }, 'index');
  process.stderr.write(`index: ${ingest.plan.images} images in ${ingest.plan.parts} parts; embedded ${summary.embedded} now, `
    + `${summary.failed} failed, ${summary.partsSkipped} parts already done (${summary.seconds.toFixed(1)} s)\n`);
  lock.release();
  process.stdout.write(`${opts.out}\n`);
}
