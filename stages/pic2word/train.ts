/**
 * Pic2Word's training as a task of the shared trainer (clip/training/trainer.ts), as the authors'
 * src/trainer.py runs it: every step, a shuffled batch of image features → f_M (train mode: dropout on)
 * → the prompt's text features → symmetric contrastive loss against the same images; AdamW (biases
 * without weight decay, main.py's groups) with open_clip's cosine schedule and linear warmup set before
 * each step; the last partial batch dropped (drop_last). The held-out split is evaluated in eval mode.
 * The loop, resume and checkpoints are the trainer's.
 */
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { totalSteps, train } from '../../clip/training/trainer.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import type { Pic2WordMetricsRow } from '../../schemas/pic2word-metrics.ts';
import { UserError } from '../../util/errors.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import type { Rng } from '../../util/rng.ts';
import { pic2wordLayout } from './checkpoint.ts';
import type { FeatureExample } from './dataset.ts';
import { type Im2TextDims, type Im2TextWeights, im2textDims, initIm2TextWeights } from './im2text.ts';
import { type Pic2WordOptions, cosineLr } from './options.ts';
import { Pic2WordSession } from './pic2word-session.ts';

export interface TrainPic2WordConfig {
  src: WeightSource;
  /** the tokenized prompt with one `$` (the authors': "a photo of $") */
  promptIds: number[];
  train: FeatureExample[];
  val: FeatureExample[];
  options: Pic2WordOptions;
  outDir: string;
  /** a resumed run must have been made with the same hash (options, model, data) */
  configHash: string;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  /** called after each epoch's metrics row (the report writer) */
  onEpoch?: (metrics: Pic2WordMetricsRow[]) => Promise<void>;
  /** stop after this epoch as if killed (tests) */
  stopAfterEpoch?: number;
}

export interface TrainPic2WordResult {
  dims: Im2TextDims;
  weights: Im2TextWeights;
  metrics: Pic2WordMetricsRow[];
  logitScale: number;
  stepsPerEpoch: number;
  /** the checkpoint epoch training resumed from, or null */
  resumedFrom: number | null;
  /** seconds of each epoch run now */
  epochSeconds: number[];
}

/** exp(logit_scale) of the checkpoint, or the option when given. */
export function resolveLogitScale(src: WeightSource, option: number | null): number {
  if (option !== null) return option;
  let t: Float32Array;
  try { t = src.tensor('logit_scale'); } catch {
    throw new UserError('the CLIP checkpoint has no logit_scale tensor: pass --logit-scale (OpenAI CLIP: 100)');
  }
  const s = Math.exp(t[0]);
  if (!(s > 0 && Number.isFinite(s))) throw new UserError(`the checkpoint's logit_scale ${t[0]} gives no usable scale: pass --logit-scale`);
  return s;
}

function dropoutMasks(B: number, dims: Im2TextDims, p: number, rng: Rng): Float32Array[] | null {
  if (p === 0) return null;
  const keep = 1 / (1 - p);
  return Array.from({ length: dims.layers }, () => {
    const m = new Float32Array(B * dims.middle);
    for (let i = 0; i < m.length; i++) m[i] = rng.next() < p ? 0 : keep;
    return m;
  });
}

function stack(rows: FeatureExample[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(r.features, i * d));
  return out;
}

export async function trainPic2Word(c: TrainPic2WordConfig): Promise<TrainPic2WordResult> {
  const o = c.options, src = c.src;
  const dims = im2textDims(src.config.projectionDim, src.config.text.width, o.middleDim, o.layers);
  for (const e of [...c.train, ...c.val]) {
    if (e.features.length !== dims.input) throw new UserError(`image ${e.id}: ${e.features.length}-d features, the model's projection dim is ${dims.input}: another model`);
  }
  const stepsPerEpoch = Math.floor(c.train.length / o.batchSize);
  if (o.epochs > 0 && stepsPerEpoch < 1) {
    throw new UserError(`--batch ${o.batchSize} is larger than the ${c.train.length} training images (the last partial batch is dropped, as the authors do): lower --batch`);
  }
  const budget = { epochs: o.epochs, maxSteps: o.maxSteps ?? null, checkpointEvery: o.checkpointEvery, seed: o.seed };
  const scheduleSteps = totalSteps(budget, stepsPerEpoch);
  const logitScale = resolveLogitScale(src, o.logitScale);

  const sessions: Pic2WordSession[] = [];
  let pair: { trainSession: Pic2WordSession; evalSession: Pic2WordSession } | null = null;
  const open = async () => {
    if (!pair) {
      const [trainSession, evalSession] = await Promise.all([
        Pic2WordSession.create(src, dims, c.promptIds, true, c.session), Pic2WordSession.create(src, dims, c.promptIds, false, c.session),
      ]);
      sessions.push(trainSession, evalSession);
      pair = { trainSession, evalSession };
    }
    return pair;
  };
  const valBatches: Float32Array[] = [];
  for (let s = 0; s < c.val.length; s += o.batchSize) {
    const rows = c.val.slice(s, s + o.batchSize);
    if (rows.length >= 2) valBatches.push(stack(rows, dims.input)); // the loss contrasts rows: a lone last row is left out
  }

  try {
    const res = await train<Im2TextDims, Im2TextWeights, Pic2WordMetricsRow>({
      network: {
        label: 'pic2word', layout: pic2wordLayout, dims, init: (rng) => initIm2TextWeights(dims, rng),
        adamW: (n) => ({ lr: o.lr, betas: [o.beta1, o.beta2], eps: o.eps, weightDecay: n.endsWith('.bias') ? 0 : o.weightDecay }),
      },
      budget, stepsPerEpoch,
      lr: (step) => cosineLr(o.lr, o.warmup, scheduleSteps, step),
      async step(s) {
        const rows = s.order(c.train.length).slice(s.batch * o.batchSize, (s.batch + 1) * o.batchSize).map((i) => c.train[i]);
        const masks = dropoutMasks(rows.length, dims, o.dropout, s.rng);
        const r = await (await open()).trainSession.step({ weights: s.params, image: stack(rows, dims.input), masks, logitScale });
        return { loss: r.loss, parts: { loss: [r.loss, rows.length] } };
      },
      async evaluate(weights) {
        const loss = new Mean(), cos = new Mean();
        for (const image of valBatches) {
          const r = await (await open()).evalSession.step({ weights, image, logitScale, masks: null });
          loss.add(r.loss, r.cosine.length);
          for (const x of r.cosine) cos.add(x, 1);
        }
        return { valLoss: loss.value, valCosine: cos.value };
      },
      row: (f) => ({ epoch: f.epoch, steps: f.steps, lr: f.lr, trainLoss: f.train.loss ?? NaN, valLoss: f.val.valLoss, valCosine: f.val.valCosine, seconds: f.seconds }),
      describe: (row) => (row.epoch === 0
        ? (valBatches.length ? `held-out loss ${row.valLoss.toFixed(4)}, cosine ${row.valCosine.toFixed(4)}`
          : 'no held-out split (fewer than 2 held-out images): the metrics hold training losses only')
        : `train loss ${row.trainLoss.toFixed(4)}${valBatches.length ? `, held-out loss ${row.valLoss.toFixed(4)}, cosine ${row.valCosine.toFixed(4)}` : ''}, lr ${row.lr.toExponential(2)}`),
    }, { outDir: c.outDir, configHash: c.configHash, progress: c.progress, log: c.log, onEpoch: c.onEpoch, stopAfterEpoch: c.stopAfterEpoch, session: c.session });
    return { dims, weights: res.weights, metrics: res.metrics, logitScale, stepsPerEpoch, resumedFrom: res.resumedFrom, epochSeconds: res.epochSeconds };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}

class Mean {
  private sum = 0;
  private n = 0;
  add(x: number, w: number): void { if (w > 0) { this.sum += x * w; this.n += w; } }
  get value(): number { return this.n ? this.sum / this.n : NaN; }
}
