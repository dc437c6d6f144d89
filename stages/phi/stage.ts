/**
 * phi in one file, as SEARLE's src/train_phi.py has it: read top to bottom,
 *   1. phiOptions: every training option with SEARLE's argparse default, and phiRunOptions: what they
 *      become for the trainer (PhiOptions, train.ts) and for run.json's fingerprint;
 *   2. phiStage: what phi reads and writes, its command on a run folder (`starword phi --run DIR`, derived
 *      by pipeline/stage-command.ts) and its run: the text encoder, optional CIRR validation;
 *   3. runPhi: the examples of the run folder, the phrase bank, a held-out split, then
 *   4. trainPhi (train.ts): SEARLE's phi trained on the shared trainer, one step a batch; then the exports.
 * In `starword run` its options are --phi-<option> (derived from the name: --lr, --seed, ... are OTI's there).
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { tokenizerForModel } from '../../clip/text/tokenizer-fit.ts';
import { INPUT_NOISES } from '../../clip/training/input-noise.ts';
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';
import { partSetIdentity } from '../../schemas/part-io.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson, sha256 } from '../../util/hash.ts';
import { splitExamples } from '../../util/held-out.ts';
import { rule } from '../../util/option-rules.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { type NoPhrasesInputs, checkPhrasesForLgpt } from '../phrases-for-lgpt.ts';
import type { StageDefinition } from '../stage.ts';
import { loadPhiExamples } from './dataset.ts';
import { PHI_ONNX, PHI_SAFETENSORS, exportPhiOnnx, exportPhiSafetensors } from './export.ts';
import { PhiPhraseBank } from './phrase-bank.ts';
import { METRICS_FILE, PLOT_PNG, writeMetricsReport } from './report.ts';
import { type PhiOptions, type TrainPhiConfig, type TrainPhiResult, bestOf, trainPhi } from './train.ts';
import { cirrValidator } from './validation.ts';

// ── 1. The options, SEARLE's argparse defaults beside them ─────────────────────────────────────────────

export const phiOptions = z.object({
  epochs: rule.nonNegativeInt().default(100).meta({ help: 'training epochs' }),
  maxSteps: rule.nonNegativeInt().optional().meta({ help: 'stop after this many optimizer steps in all (a budget beside the epochs; default: none)' }),
  batch: rule.intAtLeast(2, 'NT-Xent contrasts rows').default(256).meta({ help: 'images per batch' }),
  lr: rule.positive().default(1e-4).meta({ help: 'AdamW learning rate' }),
  weightDecay: rule.nonNegative().default(0.01).meta({ help: 'AdamW weight decay' }),
  dropout: rule.fraction().default(0.5).meta({ help: 'dropout after each hidden GELU' }),
  lambdaDistil: rule.nonNegative().default(1).meta({ help: 'weight of L_distil (NT-Xent against the OTI tokens)' }),
  lambdaGpt: rule.nonNegative().default(0.75).meta({ help: 'weight of L_gpt' }),
  temperature: rule.positive().default(0.25).meta({ help: 'NT-Xent temperature' }),
  topK: rule.positiveInt().default(150).meta({ help: 'concepts per image whose phrases feed L_gpt' }),
  valFraction: rule.fraction().default(0).meta({ help: 'share of images held out (stable hash of the id); SEARLE trains on every image' }),
  checkpointEvery: rule.positiveInt().default(5).meta({ help: 'epochs between checkpoints' }),
  seed: rule.int().default(42).meta({ help: 'seed of the initial weights, shuffles, dropout and phrase draws' }),
  inputNoise: rule.oneOf([...INPUT_NOISES]).default('none').meta({ help: 'noise on the input image features: none (SEARLE), lincir (U(0,1)·N(0,I), LinCIR\'s), gaussian (σ = noise-sigma)', value: '<kind>' }),
  noiseSigma: rule.nonNegative().default(0.1).meta({ help: 'σ of the gaussian input noise' }),
  keepLastBatch: z.boolean().default(false).meta({ help: 'keep a short last batch (SEARLE drops it: drop_last=True)' }),
  valCirr: z.string().optional().meta({ help: 'validate each epoch on CIRR val (the CIRR folder or its cap.rc2.val.json) and mark the best checkpoint', value: '<path>' }),
  valCirrIndex: z.string().optional().meta({ help: 'gallery index of the CIRR val images (a run folder of `starword index --images CIRR/dev`)', value: '<path>' }),
});

export type PhiStageOptions = z.output<typeof phiOptions>;

/** The training options as the trainer (train.ts) and run.json know them (what decides the network). */
export function phiRunOptions(o: PhiStageOptions): PhiOptions {
  return {
    epochs: o.epochs, batchSize: o.batch, lr: o.lr, weightDecay: o.weightDecay, dropout: o.dropout,
    lambdaDistil: o.lambdaDistil, lambdaGpt: o.lambdaGpt, temperature: o.temperature, topK: o.topK,
    valFraction: o.valFraction, checkpointEvery: o.checkpointEvery, seed: o.seed, dropLast: !o.keepLastBatch,
    maxSteps: o.maxSteps ?? null, inputNoise: o.inputNoise, noiseSigma: o.noiseSigma,
  };
}

/** train_phi.py's argparse defaults, read from the declaration above (the held-out split is starword's, off). */
export const SEARLE_PHI: PhiOptions = phiRunOptions(phiOptions.parse({}));

// ── 2. The stage: reads features, concepts, phrases and OTI tokens; writes phi's folder ─────────────────

export const phiStage: StageDefinition<typeof phiOptions, PhiSummary, NoPhrasesInputs & { out?: string; phrasesDir?: string }> = {
  name: 'phi',
  summary: 'train the textual inversion network phi (SEARLE defaults) on the OTI tokens; export ONNX + safetensors',
  input: ['features', 'concepts', 'phrases', 'tokens'],
  output: ['phi-metrics'],
  options: phiOptions,
  cross: [
    (o) => (o.lambdaDistil + o.lambdaGpt > 0 ? null : { key: 'lambdaGpt', message: 'and {flag:lambdaDistil} are both 0: nothing to train' }),
    (o) => (!!o.valCirr === !!o.valCirrIndex ? null : o.valCirr
      ? { key: 'valCirr', message: 'needs {flag:valCirrIndex} DIR: a gallery index of the CIRR val images (starword index --images CIRR/dev --out DIR)' }
      : { key: 'valCirrIndex', message: 'needs {flag:valCirr} DIR (the CIRR folder)' }),
  ],
  prefixedInRun: true,
  runFolder: {
    runHelp: 'run folder (embed, concepts, phrases and oti done)',
    paths: [
      { flags: '--out <dir>', input: 'out', help: 'output folder (default <run>/phi); holds checkpoints, so a rerun resumes' },
      { flags: '--phrases-dir <dir>', input: 'phrasesDir', help: 'folder of phrases parts (default <run>/phrases)' },
    ],
    topK: 'topK',
    lambdaGpt: 'lambdaGpt',
    out: 'out',
    resultLine: (s) => {
      const last = s.last;
      const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));
      return `phi: ${s.train} train / ${s.val} held-out images, ${s.epochsRunNow} epochs run now`
        + `${s.resumedFrom !== null ? ` (resumed after epoch ${s.resumedFrom})` : ''}, epoch ${last?.epoch ?? 0}: `
        + `held-out L_distil ${f(last?.valDistil)}, L_gpt ${f(last?.valGpt)}, cosine ${f(last?.valCosine)}; `
        + `${s.best ? `best CIRR val epoch ${s.best.epoch} (R@5 ${f(s.best.cirrR5)}, Rsubset@1 ${f(s.best.cirrRs1)}); ` : ''}`
        + `${s.files.onnx}, ${s.files.safetensors}`;
    },
  },
  config: phiRunOptions,
  async run(ctx, o) {
    const { model, session: sess, log } = ctx;
    const tokenizer = ctx.shared?.tokenizer ?? await tokenizerForModel(model);
    const text = ctx.shared?.text ?? await createTextEncoder(model, { ...sess, tokenizer });
    const ctxLen = model.config.text.ctx;
    const outDir = ctx.inputs.out ? resolve(ctx.inputs.out) : undefined;
    const validate = o.valCirr
      ? cirrValidator(resolve(o.valCirr), resolve(o.valCirrIndex!), text, sess, outDir ?? stageDir(ctx.runDir, 'phi'), log, model.hash)
      : undefined;
    try {
      return await runPhi({
        runDir: ctx.runDir, outDir, src: model, text, tokenize: (t) => tokenizer.tokenize(t, ctxLen),
        options: phiRunOptions(o), phrasesDir: ctx.inputs.phrasesDir ? resolve(ctx.inputs.phrasesDir) : undefined, noPhrases: ctx.inputs,
        session: sess, progress: ctx.progress('phi'), log, validate,
      });
    } finally {
      if (!ctx.shared) await text.release?.();
    }
  },
  counts: (r) => ({ epochsRunNow: r.epochsRunNow, train: r.train, heldOut: r.val }),
  resumedCounts: ['epochsRunNow'],
};

// ── 3. The run folder → the trainer → the exports ─────────────────────────────────────────────────────
// Examples from embed + oti + concepts, phrases from the phrases stage, training (resumable), then the
// exports and the report in the output folder:
//   <out>/phi.onnx (+ phi.onnx.data), <out>/phi.safetensors (SEARLE layout), <out>/metrics.arrow,
//   <out>/losses.svg + losses.png, <out>/checkpoints/epoch-NNNNN.safetensors, <out>/summary.json
// Shapes: an example is an image's features [d] (d = projection dim) and its OTI token [D] (D = text width);
// phi maps [B × d] → [B × D].

export interface RunPhiOptions {
  runDir: string;
  /** default <run>/phi */
  outDir?: string;
  src: WeightSource;
  /** computes missing phrase targets */
  text: TextEncoder;
  /** the model's tokenizer, 77 ids per text */
  tokenize: (text: string) => Int32Array;
  options: PhiOptions;
  phrasesDir?: string;
  /** what `run` says about a phrases folder without phrases (see stages/phrases-for-lgpt.ts) */
  noPhrases?: NoPhrasesInputs;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  stopAfterEpoch?: number;
  /** per-epoch benchmark validation (model selection); see TrainPhiConfig.validate */
  validate?: TrainPhiConfig['validate'];
}

export interface PhiSummary {
  outDir: string;
  images: number; train: number; val: number; withoutToken: number;
  concepts: number; phrases: number;
  resumedFrom: number | null;
  epochsRunNow: number;
  meanEpochSeconds: number | null;
  last: PhiMetricsRow | null;
  /** the epoch with the best CIRR val score (phi --val-cirr), or null */
  best: PhiMetricsRow | null;
  files: { onnx: string; safetensors: string; metrics: string; plot: string };
  /** host ↔ device bytes of the training steps run now (as placed; docs/gpu.md "State on the device") */
  transfers: TrainPhiResult['transfers'];
}

export async function runPhi(r: RunPhiOptions): Promise<PhiSummary> {
  const o = r.options;
  const outDir = r.outDir ?? stageDir(r.runDir, 'phi');
  const data = loadPhiExamples({
    embedDir: stageDir(r.runDir, 'embed'), otiDir: stageDir(r.runDir, 'oti'), conceptsDir: stageDir(r.runDir, 'concepts'),
  }, o.topK, r.src.hash);
  if (!data.examples.length) throw new UserError(`no image of ${r.runDir} has both features and an ok OTI token`);
  const { train, val } = splitExamples(data.examples, o.valFraction);
  let bank: PhiPhraseBank | null = null;
  if (o.lambdaGpt > 0) {
    const wanted = new Set(data.examples.flatMap((e) => e.concepts));
    const dir = r.phrasesDir ?? stageDir(r.runDir, 'phrases');
    bank = await PhiPhraseBank.load(dir, wanted, r.tokenize, r.text, r.log, r.src.hash);
    try {
      checkPhrasesForLgpt({ stage: 'phi', lambdaGpt: o.lambdaGpt, phrasesDir: dir, phrases: bank.phraseCount, without: 'train on L_distil alone',
        ...(bank.storedPhrases > 0 ? { forConcepts: true } : {}) }, r.noPhrases ?? {}, r.log ?? (() => {}));
    } catch (err) {
      bank.close();
      throw err;
    }
  }
  r.log?.(`phi: ${data.examples.length} images (${train.length} train, ${val.length} held out), ${data.withoutToken} without an OTI token; `
    + `${bank ? `${bank.phraseCount} phrases of ${bank.conceptCount} concepts` : 'no L_gpt'}`);
  const { epochs: _e, checkpointEvery: _c, maxSteps: _m, ...shaping } = o;
  // (validation does not shape training: a resumed run may add or drop --val-cirr)
  // the parts trained on, by content: checkpoints of a phi trained on other tokens, features, concepts
  // or phrases (an OTI redone with other options, say) are never resumed from
  const phrasesDir = r.phrasesDir ?? stageDir(r.runDir, 'phrases');
  const inputs = {
    tokens: partSetIdentity(stageDir(r.runDir, 'oti'), 'tokens'), features: partSetIdentity(stageDir(r.runDir, 'embed'), 'features'),
    concepts: partSetIdentity(stageDir(r.runDir, 'concepts'), 'concepts'), phrases: bank ? partSetIdentity(phrasesDir, 'phrases') : null,
  };
  const configHash = hashJson({ model: r.src.hash, options: shaping, train: sha256(train.map((e) => e.id).join('\n')), val: val.length, inputs });
  const meta = { 'starword.model_hash': r.src.hash, 'starword.options': JSON.stringify(o) };
  // SEARLE's training (train.ts): per batch of B examples, phi(features [B × d]) → tokens [B × D], λ_distil·NT-Xent
  // against the OTI tokens + λ_gpt·L_gpt on one drawn phrase per image; one AdamW step, epochs on the shared trainer
  const res = await trainPhi({
    src: r.src, train, val, drawer: bank, options: o, outDir, configHash, session: r.session, progress: r.progress, log: r.log,
    onEpoch: async (rows) => {
      try { await writeMetricsReport(outDir, rows, meta); } catch (err) { r.log?.(`phi: could not write the report: ${(err as Error).message}`); }
    },
    stopAfterEpoch: r.stopAfterEpoch, validate: r.validate,
  }).finally(() => bank?.close());
  await writeMetricsReport(outDir, res.metrics, meta);
  const files = {
    onnx: join(outDir, PHI_ONNX), safetensors: join(outDir, PHI_SAFETENSORS), metrics: join(outDir, METRICS_FILE), plot: join(outDir, PLOT_PNG),
  };
  exportPhiOnnx(files.onnx, res.dims, res.weights);
  const epochDone = res.metrics[res.metrics.length - 1]?.epoch ?? 0;
  await exportPhiSafetensors(files.safetensors, res.dims, res.weights, { ...meta, 'starword.epoch': String(epochDone) });
  const mean = res.epochSeconds.length ? res.epochSeconds.reduce((a, b) => a + b, 0) / res.epochSeconds.length : null;
  const summary: PhiSummary = {
    outDir, images: data.examples.length, train: train.length, val: val.length, withoutToken: data.withoutToken,
    concepts: bank?.conceptCount ?? 0, phrases: bank?.phraseCount ?? 0, resumedFrom: res.resumedFrom,
    epochsRunNow: res.epochSeconds.length, meanEpochSeconds: mean, last: res.metrics[res.metrics.length - 1] ?? null,
    best: bestOf(res.metrics), files, transfers: res.transfers,
  };
  writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return summary;
}
