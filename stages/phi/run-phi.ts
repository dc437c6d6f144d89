/**
 * The phi stage over a run folder: examples from embed + oti + concepts, phrases from the phrases
 * stage, training (resumable), then the exports and the report in the output folder:
 *   <out>/phi.onnx (+ phi.onnx.data), <out>/phi.safetensors (SEARLE layout), <out>/metrics.arrow,
 *   <out>/losses.svg + losses.png, <out>/checkpoints/epoch-NNNNN.safetensors, <out>/summary.json
 */
import { join } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';
import { partSetIdentity, writeFileAtomic } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson, sha256 } from '../../util/hash.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { splitExamples } from '../../util/held-out.ts';
import { loadPhiExamples } from './dataset.ts';
import { exportPhiOnnx, exportPhiSafetensors } from './export.ts';
import type { PhiOptions } from './options.ts';
import { type NoPhrasesInputs, checkPhrasesForLgpt } from '../phrases-for-lgpt.ts';
import { PhiPhraseBank } from './phrase-bank.ts';
import { METRICS_FILE, PLOT_PNG, writeMetricsReport } from './report.ts';
import { type TrainPhiConfig, bestOf, trainPhi } from './train.ts';

export const PHI_ONNX = 'phi.onnx';
export const PHI_SAFETENSORS = 'phi.safetensors';

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
    best: bestOf(res.metrics), files,
  };
  writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return summary;
}
