/**
 * LinCIR's training as a task of the shared trainer (clip/training/trainer.ts), as train_phi.py runs it:
 * every step a batch of phrases; φ reads each phrase's unnormalised text feature plus noise
 * (U(0,1)·N(0,I) per phrase), its token replaces the `$` of the masked phrase, and the loss is the MSE
 * between that text feature and the phrase's own; AdamW at a constant rate. The trainer's "epoch" is a
 * round of `logEvery` steps (LinCIR counts steps, not passes); batch s is a function of the step alone.
 */
import { mkdirSync } from 'node:fs';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { PSEUDO_TOKEN_ID } from '../../clip/text/text-batch.ts';
import { addInputNoise } from '../../clip/training/input-noise.ts';
import { type PhiDims, type PhiWeights, initPhiWeights, phiDims, phiDropoutMasks, searlePhiLayout } from '../../clip/training/searle-phi-net.ts';
import { train } from '../../clip/training/trainer.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import type { LincirMetricsRow } from '../../schemas/lincir-metrics.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import type { LincirOptions } from './options.ts';
import type { PhraseRow, PhraseRows } from './phrase-rows.ts';
import { LincirSession } from './lincir-session.ts';

export const LINCIR_CHECKPOINT_FORMAT = 'starword-lincir-checkpoint';
export const LINCIR_LAYOUT = searlePhiLayout(LINCIR_CHECKPOINT_FORMAT, 'LinCIR');

export interface TrainLincirConfig {
  src: WeightSource;
  rows: PhraseRows;
  /** the model's tokenizer: ids SOT … EOT */
  tokenize: (text: string) => ArrayLike<number>;
  options: LincirOptions;
  outDir: string;
  configHash: string;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  onEpoch?: (metrics: LincirMetricsRow[]) => Promise<void>;
  stopAfterEpoch?: number;
}

export interface TrainLincirResult {
  dims: PhiDims;
  weights: PhiWeights;
  metrics: LincirMetricsRow[];
  steps: number;
  resumedFrom: number | null;
  epochSeconds: number[];
  /** masked phrases of the batches run now whose ids hold no `$` (cut at the context length): φ has no say in them */
  withoutPseudoWord: number;
}

export async function trainLincir(c: TrainLincirConfig): Promise<TrainLincirResult> {
  const o = c.options, src = c.src;
  const dims = phiDims(src.config.projectionDim, src.config.text.width);
  const d = dims.input;
  mkdirSync(c.outDir, { recursive: true });
  let withoutPseudoWord = 0;
  const feeds = (batch: PhraseRow[]) => {
    const target = new Float32Array(batch.length * d);
    batch.forEach((r, i) => target.set(r.target, i * d));
    const maskedIds = batch.map((r) => {
      const ids = c.tokenize(r.swapped);
      if (!Array.prototype.includes.call(ids, PSEUDO_TOKEN_ID)) withoutPseudoWord++;
      return ids;
    });
    return { target, maskedIds };
  };

  const sessions: LincirSession[] = [];
  let pair: Promise<{ train: LincirSession; eval: LincirSession }> | undefined;
  const open = () => {
    pair ??= Promise.all([LincirSession.create(src, dims, true, c.session), LincirSession.create(src, dims, false, c.session)])
      .then(([a, b]) => { sessions.push(a, b); return { train: a, eval: b }; });
    return pair;
  };
  // held-out phrases: read once (a few hundred rows), evaluated without noise or dropout
  const valBatches: { input: Float32Array; target: Float32Array; maskedIds: ArrayLike<number>[] }[] = [];
  for (let s = 0; s < c.rows.held; s += o.batch) {
    const batch = Array.from({ length: Math.min(o.batch, c.rows.held - s) }, (_, i) => c.rows.heldOut(s + i));
    const f = feeds(batch);
    valBatches.push({ ...f, input: f.target.slice() });
  }
  withoutPseudoWord = 0;

  const stepsPerEpoch = o.logEvery;
  try {
    const res = await train<PhiDims, PhiWeights, LincirMetricsRow>({
      network: {
        label: 'lincir', layout: LINCIR_LAYOUT, dims, init: (rng) => initPhiWeights(dims, rng),
        adamW: () => ({ lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: o.weightDecay }), // torch.optim.AdamW's betas and eps
      },
      budget: { epochs: Math.ceil(o.steps / o.logEvery), maxSteps: o.steps, checkpointEvery: o.checkpointEvery, seed: o.seed },
      stepsPerEpoch,
      async step(s) {
        const batch = c.rows.batch(s.step, o.batch);
        const { target, maskedIds } = feeds(batch);
        const input = addInputNoise(target.slice(), batch.length, d, o.noise, o.noiseSigma, s.rng);
        const masks = phiDropoutMasks(batch.length, dims.hidden, o.dropout, s.rng);
        const r = await (await open()).train.step({ weights: s.params, input, maskedIds, target, masks });
        return { loss: r.loss, parts: { loss: [r.loss, batch.length] } };
      },
      async evaluate(weights) {
        let sum = 0, n = 0, cos = 0;
        for (const b of valBatches) {
          const r = await (await open()).eval.step({ weights, ...b, masks: null });
          sum += r.loss * r.cosine.length;
          n += r.cosine.length;
          for (const x of r.cosine) cos += x;
        }
        return { valLoss: n ? sum / n : NaN, valCosine: n ? cos / n : NaN };
      },
      row: (f) => ({ epoch: f.epoch, steps: f.steps, lr: f.lr, trainLoss: f.train.loss ?? NaN, valLoss: f.val.valLoss, valCosine: f.val.valCosine, seconds: f.seconds }),
      describe: (row) => (row.epoch === 0
        ? (valBatches.length ? `held-out loss ${row.valLoss.toExponential(4)}, cosine ${row.valCosine.toFixed(4)}` : '')
        : `step ${row.steps}: train loss ${row.trainLoss.toExponential(4)}${valBatches.length ? `, held-out loss ${row.valLoss.toExponential(4)}, cosine ${row.valCosine.toFixed(4)}` : ''}`),
    }, { outDir: c.outDir, configHash: c.configHash, progress: c.progress, log: c.log, onEpoch: c.onEpoch, stopAfterEpoch: c.stopAfterEpoch, session: c.session });
    return { dims, weights: res.weights, metrics: res.metrics, steps: res.steps, resumedFrom: res.resumedFrom, epochSeconds: res.epochSeconds, withoutPseudoWord };
  } finally {
    await Promise.all(sessions.map((x) => x.release()));
  }
}
