/**
 * The one training loop of the networks starword trains on frozen CLIP towers (SEARLE's phi, Pic2Word's
 * f_M, LinCIR's φ). A task brings its network (names, shapes, init, AdamW groups), its step (one batch:
 * loss parts and gradients) and its held-out evaluation; the loop owns everything else:
 *   - AdamW over every parameter, an optional learning-rate schedule set before each step; the weights and
 *     moments on the host (JavaScript AdamW) or, with `stateOnDevice` (WebGPU's default), on the device with AdamW
 *     as a graph (optimizer-state.ts), the host copy downloaded once per epoch;
 *   - a budget in epochs and, optionally, in steps (the last epoch is then cut short);
 *   - the held-out split evaluated before the first step (epoch 0) and after every epoch;
 *   - resumable checkpoints (clip/training/training-checkpoint.ts) every N epochs, after the last and where the
 *     step budget stops; weights-only snapshots and the best epoch by a task's score, when asked;
 *   - reproducible randomness: an epoch's order comes from a generator seeded by (seed, epoch) and each
 *     batch's draws (dropout, noise, phrases) from one seeded by (seed, epoch, batch), so a checkpoint's
 *     (epoch, batch) is the whole random state and a resumed run replays what an unbroken run would, also
 *     when the step budget stopped it mid-epoch.
 */
import { mkdirSync } from 'node:fs';
import { UserError } from '../../util/errors.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { Rng } from '../../util/rng.ts';
import { stateOnDevice } from '../runtime/device-tensors.ts';
import type { SessionOptions } from '../runtime/onnx-session.ts';
import type { AdamWOptions } from './adamw.ts';
import { type OptimizerState, openOptimizer } from './optimizer-state.ts';
import type { TrainedParams } from './trained-params.ts';
import { type CheckpointLayout, type TrainingCheckpoint, readLatestTrainingCheckpoint, writeTrainingCheckpoint } from './training-checkpoint.ts';
import { writeBestSnapshot, writeSnapshot } from './snapshots.ts';

export type Weights = Record<string, Float32Array>;

/** What the loop needs to know of a network. */
export interface TrainedNetwork<D, W extends Weights> {
  /** for file names, messages and seeds: "phi", "pic2word", "lincir" */
  label: string;
  layout: CheckpointLayout<D, string>;
  dims: D;
  init(rng: Rng): W;
  /** AdamW settings of one parameter (per-parameter groups: biases without decay, say) */
  adamW(name: string): AdamWOptions;
}

/** How long to train and how often to keep state. */
export interface TrainingBudget {
  epochs: number;
  /** stop after this many optimizer steps in all (null: the epochs alone decide) */
  maxSteps: number | null;
  /** a resumable checkpoint every this many epochs (and after the last) */
  checkpointEvery: number;
  seed: number;
}

/** A weighted mean's parts: [value, weight]; a weight of 0 leaves the value out. */
export type WeightedParts = Record<string, [number, number]>;

export interface StepContext {
  epoch: number;
  /** the batch's index in its epoch */
  batch: number;
  /** optimizer steps taken before this one */
  step: number;
  /** this batch's generator (dropout masks, noise, phrase draws) */
  rng: Rng;
  /** the epoch's shuffled order of 0 … n−1 (memoised per epoch) */
  order(n: number): number[];
  /** the weights to feed the training graph (clip/training/graph-session.ts), which leaves its gradients in them */
  params: TrainedParams;
}

export interface StepOutput {
  /** the loss of the gradients the step left in `params` (a non-finite one stops training) */
  loss: number;
  /** the epoch's train columns, as weighted means */
  parts: WeightedParts;
}

/** What an epoch's metrics row is made from. */
export interface EpochFacts {
  epoch: number;
  steps: number;
  /** the learning rate of the epoch's last step (NaN at epoch 0) */
  lr: number;
  train: Record<string, number>;
  val: Record<string, number>;
  seconds: number;
}

export interface TrainingTask<D, W extends Weights, M> {
  network: TrainedNetwork<D, W>;
  budget: TrainingBudget;
  stepsPerEpoch: number;
  step(c: StepContext): Promise<StepOutput>;
  /** the held-out metrics of the weights (eval mode) */
  evaluate(weights: W): Promise<Record<string, number>>;
  /** the rate of step `step` (0-based); constant `adamW(name).lr` without it */
  lr?(step: number): number;
  /** the metrics row of an epoch */
  row(f: EpochFacts): M;
  /** extra columns of an epoch's row from a benchmark (model selection), given the weights */
  validate?(weights: W, epoch: number): Promise<Partial<M>>;
  /** the row's model-selection score (higher is better; NaN: not scored) and its name */
  selection?: { criterion: string; score(row: M): number };
  /** write `<label>-NNNNN.safetensors` weights-only snapshots with the checkpoints */
  snapshots?: boolean;
  /** one line for the log after an epoch (epoch 0: at initialisation; '' logs nothing) */
  describe?(row: M): string;
}

export interface TrainerRun<M> {
  outDir: string;
  /** a resumed run must have been made with the same hash (options, model, data) */
  configHash: string;
  progress?: ProgressSink;
  log?: (line: string) => void;
  /** called after each epoch's metrics row (the report writer) */
  onEpoch?: (metrics: M[]) => Promise<void>;
  /** stop after this epoch as if killed (tests) */
  stopAfterEpoch?: number;
  /**
   * the task's session options: with `stateOnDevice(session)` (WebGPU by default) weights, gradients and AdamW's
   * moments stay on the device between steps (clip/training/optimizer-state.ts)
   */
  session?: SessionOptions;
}

export interface TrainerResult<D, W, M> {
  dims: D;
  weights: W;
  metrics: M[];
  steps: number;
  /** the checkpoint epoch training resumed from, or null */
  resumedFrom: number | null;
  /** seconds of each epoch run now */
  epochSeconds: number[];
  /** bytes the optimizer moved between host and device in this call (the training graph's own are its session's) */
  optimizerTraffic: { toDevice: number; toHost: number };
}

class Mean {
  private sum = 0;
  private n = 0;
  add(x: number, w: number): void { if (w > 0) { this.sum += x * w; this.n += w; } }
  get value(): number { return this.n ? this.sum / this.n : NaN; }
}

function means(acc: Map<string, Mean>): Record<string, number> {
  return Object.fromEntries([...acc].map(([k, m]) => [k, m.value]));
}

/** Epochs and steps the budget runs: the total number of steps. */
export function totalSteps(b: TrainingBudget, stepsPerEpoch: number): number {
  const all = b.epochs * stepsPerEpoch;
  return b.maxSteps === null ? all : Math.min(all, b.maxSteps);
}

export async function train<D, W extends Weights, M extends { epoch: number }>(task: TrainingTask<D, W, M>, run: TrainerRun<M>):
  Promise<TrainerResult<D, W, M>> {
  const { network: net } = task;
  mkdirSync(run.outDir, { recursive: true });
  const ck = await readLatestTrainingCheckpoint<D, string, W, M>(run.outDir, net.layout);
  if (ck && ck.configHash !== run.configHash) {
    throw new UserError(`${run.outDir} holds checkpoints of a ${net.layout.label} run with other options, model or data: resume with the same ones, or use another --out`);
  }
  const specs = net.layout.names(net.dims).map((name) => ({ name, shape: net.layout.shape(net.dims, name) }));
  const start = ck ?? { weights: net.init(new Rng(`${task.budget.seed}:${net.label}-init`)), steps: 0 };
  const state = await openOptimizer<W>(specs, (n) => net.adamW(n), start, stateOnDevice(run.session), run.session);
  try {
    const result = await trainWith(task, run, state, ck);
    return { ...result, optimizerTraffic: state.traffic };
  } finally {
    await state.release();
  }
}

/** The loop, from `state` (opened at the checkpoint `ck` when there is one). */
async function trainWith<D, W extends Weights, M extends { epoch: number }>(task: TrainingTask<D, W, M>, run: TrainerRun<M>, state: OptimizerState<W>,
  ck: TrainingCheckpoint<D, W, M> | null): Promise<Omit<TrainerResult<D, W, M>, 'optimizerTraffic'>> {
  const { network: net, budget: b } = task;
  const label = net.label;
  const names = net.layout.names(net.dims);

  let doneEpochs = 0, startBatch = 0, steps = 0;
  let metrics: M[] = [];
  if (ck) {
    ({ epoch: doneEpochs, steps, metrics } = ck);
    startBatch = ck.batch ?? 0;
    // a step budget that stopped mid-epoch left a row of that partial epoch: it is redone whole
    if (startBatch > 0 && metrics.length && metrics[metrics.length - 1].epoch === doneEpochs + 1) metrics.pop();
    run.log?.(`${label}: resuming after ${startBatch ? `${startBatch} batches of epoch ${doneEpochs + 1}` : `epoch ${doneEpochs}`} (${steps} steps)`);
  }
  const result = { dims: net.dims, weights: ck ? ck.weights : await state.weights(), metrics, steps, resumedFrom: ck ? ck.epoch : null, epochSeconds: [] as number[] };
  const total = totalSteps(b, task.stepsPerEpoch);
  if (ck && steps >= total) return result;
  if (total > 0 && task.stepsPerEpoch < 1) throw new UserError(`${label}: no batch to train on (0 steps per epoch)`);

  if (!metrics.length) {
    const t0 = performance.now();
    const val = await task.evaluate(await state.weights());
    const row = task.row({ epoch: 0, steps: 0, lr: NaN, train: {}, val, seconds: (performance.now() - t0) / 1000 });
    metrics.push(row);
    const line = task.describe?.(row);
    if (line) run.log?.(`${label} at initialisation: ${line}`);
    await run.onEpoch?.(metrics);
  }
  const scoreOf = (r: M) => task.selection?.score(r) ?? NaN;
  let best: M | null = null;
  for (const r of metrics) if (Number.isFinite(scoreOf(r)) && (best === null || scoreOf(r) > scoreOf(best))) best = r;

  run.progress?.start(total, steps);
  for (let epoch = doneEpochs + 1; epoch <= b.epochs && steps < total; epoch++) {
    const t0 = performance.now();
    const orders = new Map<number, number[]>();
    const order = (n: number) => {
      let o = orders.get(n);
      if (!o) orders.set(n, (o = new Rng(`${b.seed}:${label}-epoch:${epoch}`).shuffle([...Array(n).keys()])));
      return o;
    };
    const acc = new Map<string, Mean>();
    let lr = NaN;
    let batch = epoch === doneEpochs + 1 ? startBatch : 0;
    for (; batch < task.stepsPerEpoch && steps < total; batch++) {
      const rng = new Rng(`${b.seed}:${label}-epoch:${epoch}:batch:${batch}`);
      const out = await task.step({ epoch, batch, step: steps, rng, order, params: state.params });
      if (!Number.isFinite(out.loss)) throw new Error(`${label}: the loss turned non-finite at epoch ${epoch}, step ${steps + 1}`);
      const scheduled = task.lr?.(steps);
      lr = scheduled ?? net.adamW(names[names.length - 1]).lr;
      await state.step(scheduled);
      steps++;
      for (const [k, [x, w]] of Object.entries(out.parts)) {
        let m = acc.get(k);
        if (!m) acc.set(k, (m = new Mean()));
        m.add(x, w);
      }
      run.progress?.increment(1);
    }
    const partial = batch < task.stepsPerEpoch;
    // the host copy of the weights, once per epoch (a download when they live on the device)
    const weights = await state.weights();
    const val = await task.evaluate(weights);
    const extra = task.validate ? await task.validate(weights, epoch) : {};
    const seconds = (performance.now() - t0) / 1000;
    result.epochSeconds.push(seconds);
    const row = { ...task.row({ epoch, steps, lr, train: means(acc), val, seconds }), ...extra } as M;
    metrics.push(row);
    if (task.describe) run.log?.(`${label} epoch ${epoch}${partial ? ` (${batch} of ${task.stepsPerEpoch} batches: the step budget)` : ''}: ${task.describe(row)} (${seconds.toFixed(1)} s)`);
    if (task.selection && Number.isFinite(scoreOf(row)) && (best === null || scoreOf(row) > scoreOf(best))) {
      best = row;
      await writeBestSnapshot(run.outDir, label, net.layout, { epoch, dims: net.dims, weights, criterion: task.selection.criterion, value: scoreOf(row) });
    }
    const last = epoch === b.epochs || steps >= total;
    if (epoch % b.checkpointEvery === 0 || last) {
      if (task.snapshots && epoch % b.checkpointEvery === 0 && !partial) await writeSnapshot(run.outDir, label, net.layout, epoch, net.dims, weights);
      const { m, v } = await state.moments();
      await writeTrainingCheckpoint(run.outDir, net.layout, {
        epoch: partial ? epoch - 1 : epoch, batch: partial ? batch : 0, steps, dims: net.dims, weights, m, v, configHash: run.configHash, metrics,
      });
    }
    await run.onEpoch?.(metrics);
    if (run.stopAfterEpoch === epoch) break;
  }
  run.progress?.stop();
  result.weights = await state.weights();
  result.steps = steps;
  return result;
}
