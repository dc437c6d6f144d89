/**
 * Pic2Word's training loop, as the authors' src/trainer.py runs it: every step, a shuffled batch of
 * image features → f_M (train mode: dropout on) → the prompt's text features → symmetric contrastive
 * loss against the same images; AdamW (biases without weight decay, main.py's groups) with open_clip's
 * cosine schedule and linear warmup set before each step; the last partial batch dropped (drop_last).
 * Shuffles and dropout masks come from a generator seeded by (seed, epoch), so a checkpoint's epoch
 * number is the whole random state. The held-out split is evaluated in eval mode after every epoch
 * (and once before the first, epoch 0); checkpoints every N epochs and after the last, resume from the
 * newest.
 */
import { mkdirSync } from 'node:fs';
import { AdamW } from '../../clip/adamw.ts';
import type { SessionOptions } from '../../clip/onnx-session.ts';
import type { WeightSource } from '../../clip/weight-source.ts';
import type { Pic2WordMetricsRow } from '../../schemas/pic2word-metrics.ts';
import { UserError } from '../../util/errors.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { Rng } from '../../util/rng.ts';
import { readLatestCheckpoint, writeCheckpoint } from './checkpoint.ts';
import type { FeatureExample } from './dataset.ts';
import { type Im2TextDims, type Im2TextWeights, im2textDims, initIm2TextWeights, paramNames } from './im2text.ts';
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

class Mean {
  private sum = 0;
  private n = 0;
  add(x: number, w: number): void { if (w > 0) { this.sum += x * w; this.n += w; } }
  get value(): number { return this.n ? this.sum / this.n : NaN; }
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
  const totalSteps = stepsPerEpoch * o.epochs;
  const logitScale = resolveLogitScale(src, o.logitScale);
  mkdirSync(c.outDir, { recursive: true });
  const names = paramNames(dims);

  let weights = initIm2TextWeights(dims, new Rng(`${o.seed}:pic2word-init`));
  const adam: Record<string, AdamW> = {};
  for (const n of names) {
    // one options object per parameter: its lr is set before every step (the schedule)
    adam[n] = new AdamW(weights[n].length, { lr: o.lr, betas: [o.beta1, o.beta2], eps: o.eps, weightDecay: n.endsWith('.bias') ? 0 : o.weightDecay });
  }
  let startEpoch = 0;
  let metrics: Pic2WordMetricsRow[] = [];
  let steps = 0;
  const ck = await readLatestCheckpoint(c.outDir);
  if (ck) {
    if (ck.configHash !== c.configHash) {
      throw new UserError(`${c.outDir} holds checkpoints of a Pic2Word run with other options, model or data: resume with the same ones, or use another --out`);
    }
    weights = ck.weights;
    for (const n of names) { adam[n].m.set(ck.m[n]); adam[n].v.set(ck.v[n]); adam[n].step = ck.steps; }
    ({ epoch: startEpoch, metrics, steps } = ck);
    c.log?.(`pic2word: resuming after epoch ${ck.epoch} (${ck.steps} steps)`);
  }
  const result: TrainPic2WordResult = { dims, weights, metrics, logitScale, stepsPerEpoch, resumedFrom: ck ? ck.epoch : null, epochSeconds: [] };
  if (ck && startEpoch >= o.epochs) return result;

  const [trainSession, evalSession] = await Promise.all([
    Pic2WordSession.create(src, dims, c.promptIds, true, c.session), Pic2WordSession.create(src, dims, c.promptIds, false, c.session),
  ]);
  try {
    const valBatches: Float32Array[] = [];
    for (let s = 0; s < c.val.length; s += o.batchSize) {
      const rows = c.val.slice(s, s + o.batchSize);
      if (rows.length >= 2) valBatches.push(stack(rows, dims.input)); // the loss contrasts rows: a lone last row is left out
    }
    const evaluate = async () => {
      const loss = new Mean(), cos = new Mean();
      for (const image of valBatches) {
        const r = await evalSession.step({ weights, image, logitScale, masks: null });
        loss.add(r.loss, r.cosine.length);
        for (const x of r.cosine) cos.add(x, 1);
      }
      return { valLoss: loss.value, valCosine: cos.value };
    };

    if (!metrics.length) {
      const t0 = performance.now();
      const v = await evaluate();
      metrics.push({ epoch: 0, steps: 0, lr: NaN, trainLoss: NaN, ...v, seconds: (performance.now() - t0) / 1000 });
      c.log?.(valBatches.length ? `pic2word at initialisation: held-out loss ${v.valLoss.toFixed(4)}, cosine ${v.valCosine.toFixed(4)}`
        : 'pic2word: no held-out split (fewer than 2 held-out images): the metrics hold training losses only');
      await c.onEpoch?.(metrics);
    }

    c.progress?.start(totalSteps, startEpoch * stepsPerEpoch);
    for (let epoch = startEpoch + 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      const rng = new Rng(`${o.seed}:pic2word-epoch:${epoch}`);
      const order = rng.shuffle([...c.train.keys()]);
      const loss = new Mean();
      let lr = NaN;
      for (let b = 0; b < stepsPerEpoch; b++) {
        const rows = order.slice(b * o.batchSize, (b + 1) * o.batchSize).map((i) => c.train[i]);
        const masks = dropoutMasks(rows.length, dims, o.dropout, rng);
        const r = await trainSession.step({ weights, image: stack(rows, dims.input), masks, logitScale });
        if (!Number.isFinite(r.loss)) throw new Error(`pic2word: the loss turned non-finite at epoch ${epoch}, step ${steps + 1}`);
        lr = cosineLr(o.lr, o.warmup, totalSteps, steps);
        for (const n of names) { adam[n].opts.lr = lr; adam[n].update(weights[n], r.grads![n]); }
        steps++;
        loss.add(r.loss, rows.length);
        c.progress?.increment(1);
      }
      const v = await evaluate();
      const seconds = (performance.now() - t0) / 1000;
      result.epochSeconds.push(seconds);
      metrics.push({ epoch, steps, lr, trainLoss: loss.value, ...v, seconds });
      const heldOut = valBatches.length ? `, held-out loss ${v.valLoss.toFixed(4)}, cosine ${v.valCosine.toFixed(4)}` : '';
      c.log?.(`pic2word epoch ${epoch}: train loss ${loss.value.toFixed(4)}${heldOut}, lr ${lr.toExponential(2)} (${seconds.toFixed(1)} s)`);
      if (epoch % o.checkpointEvery === 0 || epoch === o.epochs) {
        await writeCheckpoint(c.outDir, { epoch, steps, dims, weights, m: pick(adam, names, 'm'), v: pick(adam, names, 'v'), configHash: c.configHash, metrics });
      }
      await c.onEpoch?.(metrics);
      if (c.stopAfterEpoch === epoch) break;
    }
    c.progress?.stop();
    result.weights = weights;
    return result;
  } finally {
    await Promise.all([trainSession.release(), evalSession.release()]);
  }
}

function pick(adam: Record<string, AdamW>, names: string[], k: 'm' | 'v'): Im2TextWeights {
  const out: Im2TextWeights = {};
  for (const n of names) out[n] = adam[n][k];
  return out;
}
