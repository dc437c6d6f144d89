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
import { type Provenance, checkPartModel, isPartCurrent, isPartDone, listDoneParts, partIdentity, readPart, readPartStats, removePartsWithout, writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import * as featuresSchema from '../../schemas/features.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { type OtiImage, type OtiResult, optimizeBatch } from './optimize.ts';
import { BatchJournal } from './batch-journal.ts';
import { createHash } from 'node:crypto';
import { hashJson } from '../../util/hash.ts';
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

function tokenRow(r: OtiResult): tokensSchema.TokenRow {
  return {
    imageId: r.id, token: r.status === 'ok' ? r.token : null, ema: r.status === 'ok' ? r.ema : null,
    lcos: r.status === 'ok' ? r.lcos : NaN, lgpt: r.status === 'ok' ? r.lgpt : NaN,
    steps: r.steps, seed: r.seed, status: r.status, error: r.error,
  };
}

function initHash(init: Map<string, Float32Array>): string {
  const h = createHash('sha256');
  for (const [id, v] of init) h.update(`${id}\n`).update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return h.digest('hex');
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
  // features and concepts of another model (of the same width, say) are never inverted with this one
  const modelHash = o.provenance?.modelHash;
  if (modelHash !== undefined) {
    for (const i of todo) {
      checkPartModel(embedDir, featuresSchema.KIND, i, modelHash, 'rerun the embed stage with this model');
      if (isPartDone(conceptsDir, conceptsSchema.KIND, i)) checkPartModel(conceptsDir, conceptsSchema.KIND, i, modelHash, 'rerun the concepts stage with this model');
    }
  }
  const readFeatures = (i: number) => featuresSchema.fromTable(readPart(embedDir, featuresSchema.KIND, i)).rows;
  // the rows to do come from the parts' stats markers: no part is read twice
  const images = todo.reduce((n, i) => n + readPartStats(embedDir, featuresSchema.KIND, i).rows, 0);
  const steps = o.options.steps;
  o.progress?.start(images * steps);
  const lcosAll: number[] = [], lgptAll: number[] = [];

  // what shapes a batch's rows: a journal made with anything else is not resumed
  const journalKey = hashJson({ options: o.options, metadata: o.metadata ?? {}, width: o.session.width, templates: o.templates.map((t) => Array.from(t)),
    phrases: o.pool.identity, init: o.init ? initHash(o.init) : null });
  for (const index of todo) {
    const partStart = performance.now();
    const feats = readFeatures(index);
    if (!isPartDone(conceptsDir, conceptsSchema.KIND, index)) {
      throw new UserError(`concepts part ${index} is not finished in ${conceptsDir}: run the concepts stage first`);
    }
    const concepts = conceptsSchema.fromTable(readPart(conceptsDir, conceptsSchema.KIND, index));
    const conceptsById = new Map(concepts.map((r) => [r.imageId, r.concepts.slice(0, o.options.topK)]));
    const journal = new BatchJournal(outDir, index, hashJson({ journalKey, provenance: provenance(index) }), o.session.width, o.metadata ?? {});
    const batchIds = (b: number) => feats.slice(b * o.options.batchSize, (b + 1) * o.options.batchSize).map((r) => r.imageId);
    const resumed = journal.finished(batchIds);
    const rows: tokensSchema.TokenRow[] = [];
    let computeS = 0, resumedRows = 0;
    for (let start = 0, batch = 0; start < feats.length; start += o.options.batchSize, batch++) {
      const done = resumed.get(batch);
      if (done) {
        rows.push(...done.rows);
        computeS += done.computeS;
        resumedRows += done.rows.length;
        o.progress?.increment(steps * done.rows.length);
        continue;
      }
      const images: OtiImage[] = [];
      for (const row of feats.slice(start, start + o.options.batchSize)) {
        const id = row.imageId;
        images.push({ id, features: row.features, phrases: o.pool.choicesFor(conceptsById.get(id) ?? []), init: o.init?.get(id) });
      }
      const tc = performance.now();
      let lastStep = 0;
      const results = await optimizeBatch(o.session, images, o.templates, o.options, (s) => {
        o.progress?.increment((s - lastStep) * images.length);
        lastStep = s;
      });
      o.progress?.increment((steps - lastStep) * images.length); // rows that all failed early
      const batchS = (performance.now() - tc) / 1000;
      computeS += batchS;
      const batchRows = results.map(tokenRow);
      await journal.write(batch, batchRows, batchS); // committed: a kill from here on loses only later batches
      rows.push(...batchRows);
    }
    if (resumedRows) o.log?.(`oti part ${index}: ${resumedRows} images from finished batches of an earlier run`);
    const failures: errorsSchema.ErrorRow[] = rows.filter((r) => r.status === 'failed')
      .map((r) => ({ imageId: r.imageId, path: '', stage: 'oti', code: 'non-finite', reason: r.error ?? 'failed' }));
    const ok = rows.filter((r) => r.status === 'ok');
    ok.forEach((r) => { lcosAll.push(r.lcos); lgptAll.push(r.lgpt); });
    // the errors part first: the tokens part's stats marker is what says "this part is done"
    await writePart(outDir, errorsSchema.KIND, index, errorsSchema.toTable(failures), SCHEMA_VERSION);
    await writePart(outDir, tokensSchema.KIND, index, tokensSchema.toTable(rows, o.session.width, o.metadata ?? {}), SCHEMA_VERSION, {
      ok: ok.length, failed: failures.length, steps, compute_s: computeS, seconds: (performance.now() - partStart) / 1000,
    }, provenance(index));
    journal.remove(); // the part is committed; its batches are no longer needed
    summary.images += rows.length;
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
