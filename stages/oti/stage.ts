/**
 * OTI in one file, as SEARLE's src/oti_inversion.py has it: read top to bottom,
 *   1. otiOptions: every option with SEARLE's argparse default, and otiRunOptions: what they become for
 *      the loop (OtiOptions, optimize.ts) and for run.json's fingerprint;
 *   2. otiStage: what OTI reads and writes, its command on a run folder (`starword oti --run DIR`, derived
 *      by pipeline/stage-command.ts) and its run: the tokenizer, the OTI session, the phrase pool;
 *   3. runOti → invertPart: every features part not yet inverted, batch by batch through
 *   4. optimizeBatch (optimize.ts): SEARLE's AdamW steps on one batch's pseudo-tokens v*.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { DEFAULT_PREFIX_CACHE_BYTES } from '../../clip/towers/prefix-cache.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { fillTemplate, loadTemplates } from '../../clip/text/templates.ts';
import type { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { tokenizerForModel } from '../../clip/text/tokenizer-fit.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as conceptsSchema from '../../schemas/concepts.ts';
import * as errorsSchema from '../../schemas/errors.ts';
import * as featuresSchema from '../../schemas/features.ts';
import {
  type Provenance, checkPartModel, isPartCurrent, isPartDone, listDoneParts, partIdentity, partSetIdentity, readPart, readPartStats, removePartsWithout, writePart,
} from '../../schemas/part-io.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';
import { rule } from '../../util/option-rules.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { type NoPhrasesInputs, checkPhrasesForLgpt } from '../phrases-for-lgpt.ts';
import type { StageDefinition } from '../stage.ts';
import { BatchJournal } from './batch-journal.ts';
import { readInitTokens } from './init-from.ts';
import { type OtiImage, type OtiOptions, type OtiResult, optimizeBatch } from './optimize.ts';
import { OtiSession } from './oti-session.ts';
import { PhrasePool } from './phrase-pool.ts';

// ── 1. The options, SEARLE's argparse defaults beside them ─────────────────────────────────────────────

export const otiOptions = z.object({
  otiSteps: rule.positiveInt().default(350).meta({ help: 'OTI steps per image' }),
  otiBatch: rule.positiveInt().default(32).meta({ help: 'images per OTI batch' }),
  lr: rule.positive().default(2e-2).meta({ help: 'AdamW learning rate' }),
  weightDecay: rule.nonNegative().default(0.01).meta({ help: 'AdamW weight decay' }),
  emaDecay: rule.fraction().default(0.99).meta({ help: 'EMA decay of v*' }),
  lambdaCos: rule.nonNegative().default(1).meta({ help: 'weight of L_cos' }),
  lambdaGpt: rule.nonNegative().default(0.5).meta({ help: 'weight of L_gpt' }),
  initStd: rule.nonNegative().default(0.02).meta({ help: 'std of the random initial v*' }),
  otiTopK: rule.positiveInt().default(15).meta({ help: 'concepts per image whose phrases feed L_gpt' }),
  seed: rule.int().default(0).meta({ help: 'seed of v* and of the template/phrase draws (one generator per image)', searle: 42 }),
  otiPadTo: rule.positiveInt().optional().meta({
    help: 'pad every batch to n tokens (≥ the longest phrase; 77 always is) and to full size: '
      + 'tokens independent of batch mates, bit for bit, so shards equal an unsharded run (slower)',
  }),
  initFrom: z.string().optional().meta({ help: 'warm start: a tokens Arrow file or folder (earlier OTI run, or phi invert)', value: '<path>' }),
  prefixCacheMb: rule.nonNegative().default(DEFAULT_PREFIX_CACHE_BYTES / 2 ** 20).meta({ help: 'bound of the prefix cache (keys/values before `$`) in MiB' }),
});

export type OtiStageOptions = z.output<typeof otiOptions>;

/** AdamW's betas and eps, which SEARLE does not expose as options */
const ADAMW_FIXED = { betas: [0.9, 0.999] as [number, number], eps: 1e-8 };

/** SEARLE's OTI batch (src/oti_inversion.py), the batch whose gradient scale larger batches keep. */
const SEARLE_BATCH = 32;

/** The optimisation's options as the loop (optimize.ts) and run.json know them (what decides the tokens). */
export function otiRunOptions(o: OtiStageOptions): OtiOptions {
  return {
    steps: o.otiSteps, batchSize: o.otiBatch,
    adamw: { ...ADAMW_FIXED, lr: o.lr, weightDecay: o.weightDecay },
    emaDecay: o.emaDecay, lambdaCos: o.lambdaCos, lambdaGpt: o.lambdaGpt, initStd: o.initStd, topK: o.otiTopK, seed: o.seed,
    // only when set, so run folders made before the option keep their fingerprint
    ...(o.otiPadTo ? { padTo: o.otiPadTo } : {}),
    // batches above SEARLE's 32 (a GPU's) keep each image's gradient as a batch of 32 gives it (OtiOptions.gradientBatch,
    // optimize.ts); recorded only then, as it changes the tokens only then
    ...(o.otiBatch > SEARLE_BATCH ? { gradientBatch: SEARLE_BATCH } : {}),
  };
}

/** SEARLE's OTI options (src/oti_inversion.py's argparse defaults), read from the declaration above. */
export const SEARLE_OTI: OtiOptions = otiRunOptions(otiOptions.parse({}));

/** SEARLE's OTI templates: the 24 PALAVRA templates formatted with " $ ", tokenized once. */
export function otiTemplateIds(tokenizer: ClipTokenizer, ctx: number): Int32Array[] {
  return loadTemplates().map((t) => tokenizer.tokenize(fillTemplate(t, '$'), ctx));
}

// ── 2. The stage: reads features, concepts, phrases; writes tokens ─────────────────────────────────────

export interface OtiInputs extends NoPhrasesInputs {
  phrasesDir?: string;
}

export const otiStage: StageDefinition<typeof otiOptions, OtiSummary, OtiInputs> = {
  name: 'oti',
  summary: 'optimisation-based textual inversion of every embedded image (SEARLE defaults), as tokens parts',
  input: ['features', 'concepts', 'phrases'],
  output: ['tokens'],
  options: otiOptions,
  cross: [(o) => (o.lambdaCos + o.lambdaGpt > 0 ? null : { key: 'lambdaGpt', message: 'and {flag:lambdaCos} are both 0: nothing to optimise' })],
  runFolder: {
    runHelp: 'run folder (embed, concepts and phrases done)',
    paths: [
      { flags: '--phrases <dir>', input: 'phrasesDir', help: 'phrases folder (default <run>/phrases; a sharded run\'s one folder for all shards)' },
      { flags: '--phrases-dir <dir>', input: 'phrasesDir', help: 'the same as --phrases' },
    ],
    topK: 'otiTopK',
    lambdaGpt: 'lambdaGpt',
    resultLine: (s) => `oti: ${s.images} images inverted now (${s.ok} ok, ${s.failed} failed), ${s.partsSkipped} of ${s.parts} parts already done, `
      + `median L_cos ${s.lcosMedian?.toFixed(4) ?? '-'}, L_gpt ${s.lgptMedian?.toFixed(4) ?? '-'}, ${s.seconds.toFixed(1)} s`,
  },
  config: otiRunOptions,
  async run(ctx, o) {
    const { model, session: sess, log } = ctx;
    const options = otiRunOptions(o);
    if ((options.padTo ?? 0) > model.config.text.ctx) throw new UserError(`--oti-pad-to ${options.padTo} exceeds the model's context length ${model.config.text.ctx}`);
    const tokenizer = ctx.shared?.tokenizer ?? await tokenizerForModel(model);
    const session = await OtiSession.create(model, { ...sess, prefixCacheBytes: Math.floor(o.prefixCacheMb * 2 ** 20) });
    // a text encoder only if some phrases lack their target features (made without a model)
    const own: { text: Promise<TextEncoder> | null } = { text: null };
    const text = () => (ctx.shared ? Promise.resolve(ctx.shared.text) : (own.text ??= createTextEncoder(model, { ...sess, tokenizer })));
    const phrasesDir = resolve(ctx.inputs.phrasesDir ?? stageDir(ctx.runDir, 'phrases'));
    try {
      const pool = await PhrasePool.load(phrasesDir, tokenizer, text, model.config.text.ctx, model.config.projectionDim, log, model.hash);
      try {
        checkPhrasesForLgpt({ stage: 'oti', lambdaGpt: options.lambdaGpt, phrasesDir, phrases: pool.phraseCount, without: 'optimise L_cos alone' }, ctx.inputs, log);
        log(`oti: ${pool.phraseCount} phrases of ${pool.conceptCount} concepts; ${options.steps} steps, batch ${options.batchSize}`);
        const init = o.initFrom ? readInitTokens(resolve(o.initFrom), model.config.text.width, model.hash) : undefined;
        if (init) log(`oti: warm start for ${init.size} images from ${o.initFrom}`);
        return await runOti({
          runDir: ctx.runDir, session, pool, templates: otiTemplateIds(tokenizer, model.config.text.ctx), options, init,
          progress: ctx.progress('oti'), log,
          metadata: { 'starword.model_hash': model.hash, 'starword.steps': String(options.steps) },
          provenance: {
            modelHash: model.hash, configHash: hashJson({ options, initFrom: o.initFrom ? resolve(o.initFrom) : null }),
            inputs: { phrases: partSetIdentity(phrasesDir, phrasesSchema.KIND) },
          },
        });
      } finally {
        pool.close();
      }
    } finally {
      await session.release();
      if (own.text) await (await own.text).release?.();
    }
  },
  counts: (r) => ({ images: r.images, ok: r.ok, failed: r.failed, parts: r.parts, partsSkipped: r.partsSkipped }),
  resumedCounts: ['ok', 'failed'],
};

// ── 3. The loop over the run folder ────────────────────────────────────────────────────────────────────
// For each embed `features` part not yet inverted: its images in batches of --oti-batch through
// optimizeBatch, written as a `tokens` part (+ an `errors` part for rows that failed) with the same index.
// Streams part by part, so memory stays flat however many images there are; a killed run redoes only the
// parts without a stats marker, and within a part only the batches its journal does not hold.
// Shapes: P = the projection dim (image and phrase features), W = the text width (the token v*).

interface RunOtiOptions {
  runDir: string;
  session: OtiSession;
  pool: PhrasePool;
  /** the 24 templates formatted with " $ " and tokenized, ctx ids each */
  templates: Int32Array[];
  options: OtiOptions;
  /** warm starts by image id, [W] each */
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

/** What every part of one runOti shares. */
interface OtiPartJob {
  o: RunOtiOptions;
  embedDir: string; conceptsDir: string; outDir: string;
  /** a part's provenance: the run's, plus its features and concepts parts */
  provenance(index: number): Provenance;
  /** what shapes a batch's rows: a journal made with anything else is not resumed */
  journalKey: string;
}

async function runOti(o: RunOtiOptions): Promise<OtiSummary> {
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
  // the rows to do come from the parts' stats markers: no part is read twice
  const images = todo.reduce((n, i) => n + readPartStats(embedDir, featuresSchema.KIND, i).rows, 0);
  o.progress?.start(images * o.options.steps);
  const lcosAll: number[] = [], lgptAll: number[] = [];

  const journalKey = hashJson({ options: o.options, metadata: o.metadata ?? {}, width: o.session.width, templates: o.templates.map((t) => Array.from(t)),
    phrases: o.pool.identity, init: o.init ? initHash(o.init) : null });
  const job: OtiPartJob = { o, embedDir, conceptsDir, outDir, provenance, journalKey };
  for (const index of todo) {
    const ok = await invertPart(job, index, summary);
    ok.forEach((r) => { lcosAll.push(r.lcos); lgptAll.push(r.lgpt); });
  }
  o.progress?.stop();
  summary.seconds = (performance.now() - t0) / 1000;
  summary.lcosMedian = median(lcosAll);
  summary.lgptMedian = median(lgptAll);
  return summary;
}

/**
 * One features part → one tokens part (+ errors part), batch by batch. Each finished batch is journaled,
 * so a kill loses only the batch in flight. Adds the part's counts to `summary`; returns its ok rows.
 */
async function invertPart(job: OtiPartJob, index: number, summary: OtiSummary): Promise<tokensSchema.TokenRow[]> {
  const { o, embedDir, conceptsDir, outDir } = job;
  const steps = o.options.steps, batchSize = o.options.batchSize;
  const partStart = performance.now();
  const feats = featuresSchema.fromTable(readPart(embedDir, featuresSchema.KIND, index)).rows; // features [P] per image
  if (!isPartDone(conceptsDir, conceptsSchema.KIND, index)) {
    throw new UserError(`concepts part ${index} is not finished in ${conceptsDir}: run the concepts stage first`);
  }
  const concepts = conceptsSchema.fromTable(readPart(conceptsDir, conceptsSchema.KIND, index));
  const conceptsById = new Map(concepts.map((r) => [r.imageId, r.concepts.slice(0, o.options.topK)]));
  const journal = new BatchJournal(outDir, index, hashJson({ journalKey: job.journalKey, provenance: job.provenance(index) }), o.session.width, o.metadata ?? {});
  const batchIds = (b: number) => feats.slice(b * batchSize, (b + 1) * batchSize).map((r) => r.imageId);
  const resumed = journal.finished(batchIds);
  const rows: tokensSchema.TokenRow[] = [];
  let computeS = 0, resumedRows = 0;
  for (let start = 0, batch = 0; start < feats.length; start += batchSize, batch++) {
    const done = resumed.get(batch);
    if (done) {
      rows.push(...done.rows);
      computeS += done.computeS;
      resumedRows += done.rows.length;
      o.progress?.increment(steps * done.rows.length);
      continue;
    }
    // a batch: B ≤ batchSize images, each its features [P], the phrase pool of its top-K concepts, a warm start [W]
    const images: OtiImage[] = [];
    for (const row of feats.slice(start, start + batchSize)) {
      const id = row.imageId;
      images.push({ id, features: row.features, phrases: o.pool.choicesFor(conceptsById.get(id) ?? []), init: o.init?.get(id) });
    }
    const tc = performance.now();
    let lastStep = 0;
    // SEARLE's loop (optimize.ts): `steps` AdamW steps on v* [B × W], one session.run of the OTI graph each
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
  // the errors part first: the tokens part's stats marker is what says "this part is done"
  await writePart(outDir, errorsSchema.KIND, index, errorsSchema.toTable(failures), SCHEMA_VERSION);
  await writePart(outDir, tokensSchema.KIND, index, tokensSchema.toTable(rows, o.session.width, o.metadata ?? {}), SCHEMA_VERSION, {
    ok: ok.length, failed: failures.length, steps, compute_s: computeS, seconds: (performance.now() - partStart) / 1000,
  }, job.provenance(index));
  journal.remove(); // the part is committed; its batches are no longer needed
  summary.images += rows.length;
  summary.ok += ok.length;
  summary.failed += failures.length;
  o.log?.(`oti part ${index}: ${ok.length} ok, ${failures.length} failed in ${computeS.toFixed(1)} s`);
  return ok;
}

/** A row of the tokens part: the token v* and its EMA [W], the last losses (NaN for a failed row). */
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
