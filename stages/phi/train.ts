/**
 * SEARLE's phi as a task of the shared trainer (clip/training/trainer.ts): its batches (image features,
 * OTI tokens, one phrase draw per image for L_gpt, dropout masks), its held-out evaluation in eval mode
 * with phrase draws fixed for the whole run, its metrics row and its model selection (CIRR val, when a
 * validator is given). The loop, resume, checkpoints and snapshots are the trainer's.
 */
import type { AdamWOptions } from '../../clip/training/adamw.ts';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import type { Traffic } from '../../clip/training/graph-session.ts';
import { type InputNoise, addInputNoise } from '../../clip/training/input-noise.ts';
import { train } from '../../clip/training/trainer.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { PHI_SELECTION_CRITERION, type PhiMetricsRow, noValMetrics, valMetricsFrom } from '../../schemas/phi-metrics.ts';
import { UserError } from '../../util/errors.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { Rng } from '../../util/rng.ts';
import { PHI_LAYOUT } from './checkpoint.ts';
import type { PhiExample } from './dataset.ts';
import { type PhiDims, type PhiWeights, initPhiWeights, phiDims, phiDropoutMasks } from './phi-net.ts';
import type { PhiPhrase, PhraseDrawer } from './phrase-bank.ts';
import { PhiSession, type PhiStepInput } from './phi-session.ts';

/** The training options as the trainer reads them; declared for the command line, with SEARLE's defaults, in stage.ts (phiOptions → phiRunOptions). */
export interface PhiOptions {
  epochs: number;
  /** stop after this many optimizer steps in all (null: the epochs decide) */
  maxSteps: number | null;
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** dropout probability after each hidden GELU */
  dropout: number;
  lambdaDistil: number;
  lambdaGpt: number;
  /** NT-Xent temperature */
  temperature: number;
  /** concepts per image whose phrases feed L_gpt */
  topK: number;
  /** share of images held out (by a stable hash of the id) */
  valFraction: number;
  /** write a checkpoint every this many epochs (and after the last) */
  checkpointEvery: number;
  seed: number;
  /** drop a short last batch, as SEARLE's DataLoader(drop_last=True) */
  dropLast: boolean;
  /** noise on the input image features (LinCIR's U(0,1)·N(0,I), or N(0, σ²)); SEARLE: none */
  inputNoise: InputNoise;
  /** σ of the 'gaussian' input noise */
  noiseSigma: number;
}

export interface TrainPhiConfig {
  src: WeightSource;
  train: PhiExample[];
  val: PhiExample[];
  /** phrase source for L_gpt; null trains without phrases (every row's L_gpt dropped) */
  drawer: PhraseDrawer | null;
  options: PhiOptions;
  outDir: string;
  /** a resumed run must have been made with the same hash (options, model, data) */
  configHash: string;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  /** called after each epoch's metrics row (the report writer) */
  onEpoch?: (metrics: PhiMetricsRow[]) => Promise<void>;
  /** stop after this epoch as if killed (tests) */
  stopAfterEpoch?: number;
  /**
   * Model selection (SEARLE validates phi on CIRR val every epoch): given the weights after an epoch,
   * the benchmark's metrics by name (percent, as the evaluate stage reports them). The pipeline wires
   * it to the evaluate stage; stages do not import each other.
   */
  validate?: (dims: PhiDims, weights: PhiWeights, epoch: number) => Promise<Record<string, number>>;
}

export interface TrainPhiResult {
  dims: PhiDims;
  weights: PhiWeights;
  metrics: PhiMetricsRow[];
  /** the checkpoint epoch training resumed from, or null */
  resumedFrom: number | null;
  /** seconds of each epoch run now */
  epochSeconds: number[];
  /** host ↔ device bytes of the training steps run now: the training graph's feeds and outputs, and the optimizer's */
  transfers: { steps: number; trainGraph: Traffic; optimizer: { toDevice: number; toHost: number } };
}

export function phiAdamW(o: PhiOptions): AdamWOptions {
  return { lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: o.weightDecay };
}

interface Batch { input: Omit<PhiStepInput, 'weights' | 'masks'>; rows: number; gptRows: number }

/** A batch's feeds from its examples and phrase draws (null: no phrase for that row). */
async function makeBatch(rows: PhiExample[], draws: (PhiPhrase | null)[], drawer: PhraseDrawer | null, src: WeightSource, o: PhiOptions): Promise<Batch> {
  const d = src.config.projectionDim, D = src.config.text.width;
  const B = rows.length;
  const image = new Float32Array(B * d), oti = new Float32Array(B * D), target = new Float32Array(B * d);
  rows.forEach((r, i) => { image.set(r.features, i * d); oti.set(r.token, i * D); });
  const used = draws.map((p) => p !== null);
  // a row without a phrase has weight 0 in L_gpt, but a zero target would make its cosine 0/0 and
  // NaN · 0 is NaN: give it a harmless constant target (λ_gpt 0, or images without phrases)
  draws.forEach((p, i) => { if (!p) target.fill(1, i * d, (i + 1) * d); });
  const phraseIds: ArrayLike<number>[] = rows.map(() => [src.config.text.bos, src.config.text.eos]);
  const chosen = draws.filter((p): p is PhiPhrase => p !== null);
  if (drawer && chosen.length) {
    const prepared = await drawer.prepare(chosen);
    let k = 0;
    draws.forEach((p, i) => {
      if (!p) return;
      phraseIds[i] = prepared.ids[k];
      target.set(prepared.targets[k], i * d);
      k++;
    });
  }
  return {
    input: { image, oti, phraseIds, target, gptMask: used, lambdaDistil: o.lambdaDistil, lambdaGpt: o.lambdaGpt, temperature: o.temperature },
    rows: B, gptRows: chosen.length,
  };
}

function drawPhrases(rows: PhiExample[], usable: string[][], drawer: PhraseDrawer | null, rng: Rng): (PhiPhrase | null)[] {
  return rows.map((_, i) => {
    const cs = usable[i];
    if (!drawer || !cs.length) return null;
    return drawer.pick(cs[rng.int(cs.length)], rng);
  });
}

export async function trainPhi(c: TrainPhiConfig): Promise<TrainPhiResult> {
  const o = c.options, src = c.src;
  const dims = phiDims(src.config.projectionDim, src.config.text.width);
  for (const e of [...c.train, ...c.val]) {
    if (e.features.length !== dims.input) throw new UserError(`image ${e.id}: ${e.features.length}-d features, the model's projection dim is ${dims.input}`);
    if (e.token.length !== dims.output) throw new UserError(`image ${e.id}: ${e.token.length}-d OTI token, the model's token width is ${dims.output}`);
  }
  if (o.epochs > 0 && c.train.length < 2) throw new UserError(`phi needs at least 2 training images, got ${c.train.length}`);
  // drop_last (SEARLE's loader): only full batches; without it a short last batch is kept too
  const stepsPerEpoch = o.dropLast ? Math.floor(c.train.length / o.batchSize) : Math.ceil(c.train.length / o.batchSize);
  if (o.epochs > 0 && stepsPerEpoch === 0) {
    throw new UserError(`phi: ${c.train.length} training images, fewer than one batch of ${o.batchSize}; with SEARLE's drop_last nothing trains: lower --batch or pass --keep-last-batch`);
  }
  const usableOf = (rows: PhiExample[]) => rows.map((r) => (c.drawer ? c.drawer.usable(r.concepts) : []));
  const trainUsable = usableOf(c.train);

  const sessions: PhiSession[] = [];
  let trainSession: PhiSession | null = null, evalSession: PhiSession | null = null;
  const open = async () => {
    if (trainSession && evalSession) return { trainSession, evalSession };
    [trainSession, evalSession] = await Promise.all([PhiSession.create(src, dims, true, c.session), PhiSession.create(src, dims, false, c.session)]);
    sessions.push(trainSession, evalSession);
    return { trainSession, evalSession };
  };

  // held-out batches: phrase draws fixed for the whole run, so epochs compare on the same material
  let valBatches: Batch[] | null = null;
  const heldOut = async () => {
    if (valBatches) return valBatches;
    const valRng = new Rng(`${o.seed}:phi-val`);
    const valUsable = usableOf(c.val);
    valBatches = [];
    for (let s = 0; s < c.val.length; s += o.batchSize) {
      const rows = c.val.slice(s, s + o.batchSize);
      valBatches.push(await makeBatch(rows, drawPhrases(rows, valUsable.slice(s, s + o.batchSize), c.drawer, valRng), c.drawer, src, o));
    }
    return valBatches;
  };

  try {
    const res = await train<PhiDims, PhiWeights, PhiMetricsRow>({
      network: { label: 'phi', layout: PHI_LAYOUT, dims, init: (rng) => initPhiWeights(dims, rng), adamW: () => phiAdamW(o) },
      budget: { epochs: o.epochs, maxSteps: o.maxSteps, checkpointEvery: o.checkpointEvery, seed: o.seed },
      stepsPerEpoch,
      snapshots: true,
      selection: c.validate ? { criterion: PHI_SELECTION_CRITERION, score: (r) => r.cirrAvg ?? NaN } : undefined,
      async step(s) {
        const idx = s.order(c.train.length).slice(s.batch * o.batchSize, (s.batch + 1) * o.batchSize);
        const rows = idx.map((i) => c.train[i]);
        const draws = drawPhrases(rows, idx.map((i) => trainUsable[i]), c.drawer, s.rng);
        const masks = phiDropoutMasks(rows.length, dims.hidden, o.dropout, s.rng);
        const b = await makeBatch(rows, draws, c.drawer, src, o);
        if (o.inputNoise !== 'none') addInputNoise(b.input.image, rows.length, dims.input, o.inputNoise, o.noiseSigma, s.rng);
        const r = await (await open()).trainSession.step({ ...b.input, weights: s.params, masks });
        return { loss: r.total, parts: { distil: [r.distil, b.rows], gpt: [r.gpt, b.gptRows], total: [r.total, b.rows] } };
      },
      async evaluate(weights) {
        const distil = new Mean(), gpt = new Mean(), total = new Mean(), cos = new Mean();
        for (const b of await heldOut()) {
          if (b.rows < 2) continue; // NT-Xent needs a pair; a lone last row is left out
          const r = await (await open()).evalSession.step({ ...b.input, weights, masks: null });
          distil.add(r.distil, b.rows);
          gpt.add(r.gpt, b.gptRows);
          total.add(r.total, b.rows);
          for (const x of r.cosine) cos.add(x, 1);
        }
        return { valDistil: distil.value, valGpt: gpt.value, valTotal: total.value, valCosine: cos.value };
      },
      validate: c.validate ? async (weights, epoch) => valMetricsFrom(await c.validate!(dims, weights, epoch)) : undefined,
      row: (f) => ({
        epoch: f.epoch, steps: f.steps, trainDistil: f.train.distil ?? NaN, trainGpt: f.train.gpt ?? NaN, trainTotal: f.train.total ?? NaN,
        valDistil: f.val.valDistil, valGpt: f.val.valGpt, valTotal: f.val.valTotal, valCosine: f.val.valCosine, ...noValMetrics(), seconds: f.seconds,
      }),
      describe: (row) => (row.epoch === 0 ? (c.val.length ? `held-out distil ${row.valDistil.toFixed(4)}, gpt ${row.valGpt.toFixed(4)}, cosine ${row.valCosine.toFixed(4)}` : '') : `train total ${row.trainTotal.toFixed(4)}`
        + `${c.val.length ? `, held-out distil ${row.valDistil.toFixed(4)}, gpt ${row.valGpt.toFixed(4)}, cosine ${row.valCosine.toFixed(4)}` : ''}`
        + `${Number.isFinite(row.cirrAvg) ? `; CIRR val R@1 ${row.cirrR1!.toFixed(2)} R@5 ${row.cirrR5!.toFixed(2)} Rsubset@1 ${row.cirrRs1!.toFixed(2)}` : ''}`),
    }, { outDir: c.outDir, configHash: c.configHash, progress: c.progress, log: c.log, onEpoch: c.onEpoch, stopAfterEpoch: c.stopAfterEpoch, session: c.session });
    const trainGraph = (trainSession as PhiSession | null)?.traffic ?? { toDevice: 0, toHost: 0, runs: 0 };
    return { dims: res.dims, weights: res.weights, metrics: res.metrics, resumedFrom: res.resumedFrom, epochSeconds: res.epochSeconds,
      transfers: { steps: trainGraph.runs, trainGraph, optimizer: res.optimizerTraffic } };
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

/** The epoch with the highest CIRR average (earliest on a tie), or null when none was validated. */
export function bestOf(rows: readonly PhiMetricsRow[]): PhiMetricsRow | null {
  let best: PhiMetricsRow | null = null;
  const score = (r: PhiMetricsRow) => r.cirrAvg ?? NaN;
  for (const r of rows) if (Number.isFinite(score(r)) && (best === null || score(r) > score(best))) best = r;
  return best;
}
