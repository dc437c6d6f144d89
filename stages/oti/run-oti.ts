/**
 * The OTI stage over a run folder: for each embed `features` part not yet inverted, its images in
 * batches through optimizeBatch, written as a `tokens` part (+ an `errors` part for rows that failed)
 * with the same index. Streams part by part, so memory stays flat however many images there are; a
 * killed run redoes only the parts without a stats marker.
 */
import * as conceptsSchema from '../../schemas/concepts.ts';
import * as errorsSchema from '../../schemas/errors.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { type Provenance, isPartCurrent, isPartDone, listDoneParts, partIdentity, readPart, readPartStats, removePartsWithout, writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import * as featuresSchema from '../../schemas/features.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { type OtiImage, type OtiResult, optimizeBatch } from './optimize.ts';
import type { OtiOptions } from './options.ts';
import type { OtiSession } from './oti-session.ts';
import type { PhrasePool } from './phrase-pool.ts';

export interface RunOtiOptions {
  runDir: string;
  session: OtiSession;
  pool: PhrasePool;
  /** the 24 templates formatted with " $ " and tokenized */
  templates: Int32Array[];
  options: OtiOptions;
  /** warm starts by image id */
  init?: Map<string, Float32Array>;
  progress?: ProgressSink;
  /** extra schema metadata for the tokens parts */
  metadata?: Record<string, string>;
  /**
   * what decides the tokens besides each part's features and concepts (which runOti adds): the options'
   * and model's hashes, the phrase set's identity. A done part made otherwise is redone.
   */
  provenance?: Provenance;
  log?: (line: string) => void;
}

export interface OtiSummary {
  parts: number; partsSkipped: number; images: number; ok: number; failed: number; seconds: number;
  /** median of the final L_cos / L_gpt of the images inverted now */
  lcosMedian: number | null; lgptMedian: number | null;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function runOti(o: RunOtiOptions): Promise<OtiSummary> {
  const t0 = performance.now();
  const embedDir = stageDir(o.runDir, 'embed');
  const conceptsDir = stageDir(o.runDir, 'concepts');
  const outDir = stageDir(o.runDir, 'oti');
  const parts = listDoneParts(embedDir, 'features');
  if (!parts.length) throw new UserError(`no finished features parts in ${embedDir}: run the embed stage first`);
  const provenance = (i: number): Provenance => ({
    ...o.provenance,
    inputs: { ...o.provenance?.inputs, features: partIdentity(embedDir, featuresSchema.KIND, i), concepts: partIdentity(conceptsDir, conceptsSchema.KIND, i) },
  });
  const redoLog = (l: string) => o.log?.(`oti: ${l}`);
  removePartsWithout(outDir, [tokensSchema.KIND, errorsSchema.KIND], parts, redoLog);
  const todo = parts.filter((i) => !(isPartCurrent(outDir, tokensSchema.KIND, i, { provenance: provenance(i) }, redoLog)
    && isPartCurrent(outDir, errorsSchema.KIND, i, {}, redoLog)));
  const summary: OtiSummary = { parts: parts.length, partsSkipped: parts.length - todo.length, images: 0, ok: 0, failed: 0, seconds: 0, lcosMedian: null, lgptMedian: null };
  const readFeatures = (i: number) => featuresSchema.fromTable(readPart(embedDir, featuresSchema.KIND, i)).rows;
  // the rows to do come from the parts' stats markers: no part is read twice
  const images = todo.reduce((n, i) => n + readPartStats(embedDir, featuresSchema.KIND, i).rows, 0);
  const steps = o.options.steps;
  o.progress?.start(images * steps);
  const lcosAll: number[] = [], lgptAll: number[] = [];

  for (const index of todo) {
    const partStart = performance.now();
    const feats = readFeatures(index);
    if (!isPartDone(conceptsDir, conceptsSchema.KIND, index)) {
      throw new UserError(`concepts part ${index} is not finished in ${conceptsDir}: run the concepts stage first`);
    }
    const concepts = conceptsSchema.fromTable(readPart(conceptsDir, conceptsSchema.KIND, index));
    const conceptsById = new Map(concepts.map((r) => [r.imageId, r.concepts.slice(0, o.options.topK)]));
    const results: OtiResult[] = [];
    let computeS = 0;
    for (let start = 0; start < feats.length; start += o.options.batchSize) {
      const images: OtiImage[] = [];
      for (const row of feats.slice(start, start + o.options.batchSize)) {
        const id = row.imageId;
        images.push({ id, features: row.features, phrases: await o.pool.choicesFor(conceptsById.get(id) ?? []), init: o.init?.get(id) });
      }
      const tc = performance.now();
      let lastStep = 0;
      results.push(...await optimizeBatch(o.session, images, o.templates, o.options, (s) => {
        o.progress?.increment((s - lastStep) * images.length);
        lastStep = s;
      }));
      o.progress?.increment((steps - lastStep) * images.length); // rows that all failed early
      computeS += (performance.now() - tc) / 1000;
    }
    const rows: tokensSchema.TokenRow[] = results.map((r) => ({
      imageId: r.id, token: r.status === 'ok' ? r.token : null, ema: r.status === 'ok' ? r.ema : null,
      lcos: r.status === 'ok' ? r.lcos : NaN, lgpt: r.status === 'ok' ? r.lgpt : NaN,
      steps: r.steps, seed: r.seed, status: r.status, error: r.error,
    }));
    const failures: errorsSchema.ErrorRow[] = results.filter((r) => r.status === 'failed')
      .map((r) => ({ imageId: r.id, path: '', stage: 'oti', code: 'non-finite', reason: r.error ?? 'failed' }));
    const ok = results.filter((r) => r.status === 'ok');
    ok.forEach((r) => { lcosAll.push(r.lcos); lgptAll.push(r.lgpt); });
    // the errors part first: the tokens part's stats marker is what says "this part is done"
    await writePart(outDir, errorsSchema.KIND, index, errorsSchema.toTable(failures), SCHEMA_VERSION);
    await writePart(outDir, tokensSchema.KIND, index, tokensSchema.toTable(rows, o.session.width, o.metadata ?? {}), SCHEMA_VERSION, {
      ok: ok.length, failed: failures.length, steps, compute_s: computeS, seconds: (performance.now() - partStart) / 1000,
    }, provenance(index));
    summary.images += results.length;
    summary.ok += ok.length;
    summary.failed += failures.length;
    o.log?.(`oti part ${index}: ${ok.length} ok, ${failures.length} failed in ${computeS.toFixed(1)} s`);
  }
  o.progress?.stop();
  summary.seconds = (performance.now() - t0) / 1000;
  summary.lcosMedian = median(lcosAll);
  summary.lgptMedian = median(lgptAll);
  return summary;
}
