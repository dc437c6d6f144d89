/**
 * `starword index --model DIR --images DIR|CSV --out DIR`: a gallery index for retrieval = the ingest and
 * embed stages on the gallery images. The index is a run folder; its embed/features-NNNNN.arrow parts
 * are what `retrieve` and `evaluate` read (`--index` takes the run folder). Resumable like any run:
 * rerunning redoes only the parts without their done marker.
 */
import { resolve } from 'node:path';
import { embedStage } from '../stages/embed/stage.ts';
import { ingestStage } from '../stages/ingest/stage.ts';
import { loadClipModel } from '../clip/weights/clip-model.ts';
import { underLock } from './run-manifest.ts';
import { sharedOptionsFrom } from './shared-options.ts';
import { runStage, stageContext, stageOptionsFrom } from './stage-command.ts';

/** commander's options of `index` (or the same keys given by a caller): images, out, the shared ones, ingest's and embed's. */
export interface Options { images: string; out: string; [flag: string]: unknown }

export async function runIndex(raw: Options, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  const ingestOpts = stageOptionsFrom(ingestStage, raw);
  const embedOpts = stageOptionsFrom(embedStage, raw);
  const shared = sharedOptionsFrom(raw);
  const model = await loadClipModel(resolve(shared.model!));
  const out = resolve(raw.out);
  const { lock } = underLock(out, 'index', () => undefined); // one writer of the index folder
  try {
    const ingest = await runStage(ingestStage, stageContext(out, model, shared,
      { source: raw.images, shard: { index: 0, count: 1 }, force: shared.force }, log), ingestOpts);
    const summary = await runStage(embedStage, stageContext(out, model, shared, { label: 'index' }, log), embedOpts);
    log(`index: ${ingest.plan.images} images in ${ingest.plan.parts} parts; embedded ${summary.embedded} now, `
      + `${summary.failed} failed, ${summary.partsSkipped} parts already done (${summary.seconds.toFixed(1)} s)`);
  } finally {
    lock.release();
  }
  process.stdout.write(`${raw.out}\n`);
}
