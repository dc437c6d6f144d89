/**
 * SEARLE's phi training loop: AdamW over every weight, seeded shuffles, dropout masks and phrase draws
 * from a generator seeded by (seed, epoch) — so a checkpoint's epoch number is the whole random state —
 * the held-out split evaluated in eval mode after every epoch (and once before the first, epoch 0) with
 * phrase draws fixed for the whole run, checkpoints every N epochs, resume from the last one.
 */
import { mkdirSync } from 'node:fs';
import { AdamW, type AdamWOptions } from '../../clip/adamw.ts';
import type { SessionOptions } from '../../clip/onnx-session.ts';
import type { WeightSource } from '../../clip/weight-source.ts';
import { PHI_SELECTION_CRITERION, type PhiMetricsRow, type PhiValMetrics, noValMetrics, valMetricsFrom } from '../../schemas/phi-metrics.ts';
import { UserError } from '../../util/errors.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { Rng } from '../../util/rng.ts';
import { readLatestCheckpoint, writeBestSnapshot, writeCheckpoint, writeSnapshot } from './checkpoint.ts';
import type { PhiExample } from './dataset.ts';
import type { PhiOptions } from './options.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights, initPhiWeights, phiDims } from './phi-net.ts';
import type { PhiPhrase, PhraseDrawer } from './phrase-bank.ts';
import { PhiSession, type PhiStepInput } from './phi-session.ts';

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

function dropoutMasks(B: number, h: number, p: number, rng: Rng): [Float32Array, Float32Array] | null {
  if (p === 0) return null;
  const keep = 1 / (1 - p);
  const draw = () => {
    const m = new Float32Array(B * h);
    for (let i = 0; i < m.length; i++) m[i] = rng.next() < p ? 0 : keep;
    return m;
  };
  return [draw(), draw()];
}

class Mean {
  private sum = 0;
  private n = 0;
  add(x: number, w: number): void { if (w > 0) { this.sum += x * w; this.n += w; } }
  get value(): number { return this.n ? this.sum / this.n : NaN; }
}

export async function trainPhi(c: TrainPhiConfig): Promise<TrainPhiResult> {
  const o = c.options, src = c.src;
  const dims = phiDims(src.config.projectionDim, src.config.text.width);
  for (const e of [...c.train, ...c.val]) {
    if (e.features.length !== dims.input) throw new UserError(`image ${e.id}: ${e.features.length}-d features, the model's projection dim is ${dims.input}`);
    if (e.token.length !== dims.output) throw new UserError(`image ${e.id}: ${e.token.length}-d OTI token, the model's token width is ${dims.output}`);
  }
  if (o.epochs > 0 && c.train.length < 2) throw new UserError(`phi needs at least 2 training images, got ${c.train.length}`);
  mkdirSync(c.outDir, { recursive: true });
  const usableOf = (rows: PhiExample[]) => rows.map((r) => (c.drawer ? c.drawer.usable(r.concepts) : []));
  const trainUsable = usableOf(c.train);

  let weights = initPhiWeights(dims, new Rng(`${o.seed}:phi-init`));
  const adam = {} as Record<string, AdamW>;
  for (const n of PHI_PARAMS) adam[n] = new AdamW(weights[n].length, phiAdamW(o));
  let startEpoch = 0;
  let metrics: PhiMetricsRow[] = [];
  let steps = 0;
  const ck = await readLatestCheckpoint(c.outDir);
  if (ck) {
    if (ck.configHash !== c.configHash) {
      throw new UserError(`${c.outDir} holds checkpoints of a phi run with other options, model or data: resume with the same ones, or use another --out`);
    }
    weights = ck.weights;
    for (const n of PHI_PARAMS) { adam[n].m.set(ck.m[n]); adam[n].v.set(ck.v[n]); adam[n].step = ck.steps; }
    startEpoch = ck.epoch;
    metrics = ck.metrics;
    steps = ck.steps;
    c.log?.(`phi: resuming after epoch ${ck.epoch} (${ck.steps} steps)`);
  }
  const result: TrainPhiResult = { dims, weights, metrics, resumedFrom: ck ? ck.epoch : null, epochSeconds: [] };
  if (startEpoch >= o.epochs && ck) return result;

  const [trainSession, evalSession] = await Promise.all([
    PhiSession.create(src, dims, true, c.session), PhiSession.create(src, dims, false, c.session),
  ]);
  try {

    // held-out batches: phrase draws fixed for the whole run, so epochs compare on the same material
    const valRng = new Rng(`${o.seed}:phi-val`);
    const valUsable = usableOf(c.val);
    const valBatches: Batch[] = [];
    for (let s = 0; s < c.val.length; s += o.batchSize) {
      const rows = c.val.slice(s, s + o.batchSize);
      valBatches.push(await makeBatch(rows, drawPhrases(rows, valUsable.slice(s, s + o.batchSize), c.drawer, valRng), c.drawer, src, o));
    }
    const evaluate = async () => {
      const distil = new Mean(), gpt = new Mean(), total = new Mean(), cos = new Mean();
      for (const b of valBatches) {
        if (b.rows < 2) continue; // NT-Xent needs a pair; a lone last row is left out
        const r = await evalSession.step({ ...b.input, weights, masks: null });
        distil.add(r.distil, b.rows);
        gpt.add(r.gpt, b.gptRows);
        total.add(r.total, b.rows);
        for (const x of r.cosine) cos.add(x, 1);
      }
      return { valDistil: distil.value, valGpt: gpt.value, valTotal: total.value, valCosine: cos.value };
    };

    if (!metrics.length) {
      const t0 = performance.now();
      const v = await evaluate();
      metrics.push({ epoch: 0, steps: 0, trainDistil: NaN, trainGpt: NaN, trainTotal: NaN, ...v, ...noValMetrics(), seconds: (performance.now() - t0) / 1000 });
      if (c.val.length) c.log?.(`phi at initialisation: held-out distil ${v.valDistil.toFixed(4)}, gpt ${v.valGpt.toFixed(4)}, cosine ${v.valCosine.toFixed(4)}`);
      await c.onEpoch?.(metrics);
    }

    // drop_last (SEARLE's loader): only full batches; without it a short last batch is kept too
    const batchesPerEpoch = o.dropLast ? Math.floor(c.train.length / o.batchSize) : Math.ceil(c.train.length / o.batchSize);
    if (o.epochs > startEpoch && batchesPerEpoch === 0) {
      throw new UserError(`phi: ${c.train.length} training images, fewer than one batch of ${o.batchSize}; with SEARLE's drop_last nothing trains: lower --batch or pass --keep-last-batch`);
    }
    let best = bestOf(metrics);
    c.progress?.start(o.epochs * batchesPerEpoch, startEpoch * batchesPerEpoch);
    for (let epoch = startEpoch + 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      const rng = new Rng(`${o.seed}:phi-epoch:${epoch}`);
      const order = rng.shuffle([...c.train.keys()]);
      const distil = new Mean(), gpt = new Mean(), total = new Mean();
      for (let s = 0; s < batchesPerEpoch * o.batchSize; s += o.batchSize) {
        const idx = order.slice(s, s + o.batchSize); // without drop_last a short last batch is kept, as torch's DataLoader does
        const rows = idx.map((i) => c.train[i]);
        const draws = drawPhrases(rows, idx.map((i) => trainUsable[i]), c.drawer, rng);
        const masks = dropoutMasks(rows.length, dims.hidden, o.dropout, rng);
        const b = await makeBatch(rows, draws, c.drawer, src, o);
        const r = await trainSession.step({ ...b.input, weights, masks });
        if (!Number.isFinite(r.total)) throw new Error(`phi: the loss turned non-finite at epoch ${epoch}, step ${steps + 1}`);
        for (const n of PHI_PARAMS) adam[n].update(weights[n], r.grads![n]);
        steps++;
        distil.add(r.distil, b.rows);
        gpt.add(r.gpt, b.gptRows);
        total.add(r.total, b.rows);
        c.progress?.increment(1);
      }
      const v = await evaluate();
      const bench = c.validate ? valMetricsFrom(await c.validate(dims, weights, epoch)) : noValMetrics();
      const seconds = (performance.now() - t0) / 1000;
      result.epochSeconds.push(seconds);
      const row: PhiMetricsRow & PhiValMetrics = { epoch, steps, trainDistil: distil.value, trainGpt: gpt.value, trainTotal: total.value, ...v, ...bench, seconds };
      metrics.push(row);
      c.log?.(`phi epoch ${epoch}: train total ${total.value.toFixed(4)}`
        + `${c.val.length ? `, held-out distil ${v.valDistil.toFixed(4)}, gpt ${v.valGpt.toFixed(4)}, cosine ${v.valCosine.toFixed(4)}` : ''}`
        + `${Number.isFinite(row.cirrAvg) ? `; CIRR val R@1 ${row.cirrR1.toFixed(2)} R@5 ${row.cirrR5.toFixed(2)} Rsubset@1 ${row.cirrRs1.toFixed(2)}` : ''} (${seconds.toFixed(1)} s)`);
      if (Number.isFinite(row.cirrAvg) && (best === null || row.cirrAvg > (best.cirrAvg ?? NaN))) {
        best = row;
        await writeBestSnapshot(c.outDir, { epoch, dims, weights, criterion: PHI_SELECTION_CRITERION, value: row.cirrAvg });
      }
      if (epoch % o.checkpointEvery === 0 || epoch === o.epochs) {
        if (epoch % o.checkpointEvery === 0) await writeSnapshot(c.outDir, epoch, dims, weights);
        await writeCheckpoint(c.outDir, { epoch, steps, dims, weights, m: pickMoments(adam, 'm'), v: pickMoments(adam, 'v'), configHash: c.configHash, metrics });
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

/** The epoch with the highest CIRR average (earliest on a tie), or null when none was validated. */
export function bestOf(rows: readonly PhiMetricsRow[]): PhiMetricsRow | null {
  let best: PhiMetricsRow | null = null;
  const score = (r: PhiMetricsRow) => r.cirrAvg ?? NaN;
  for (const r of rows) if (Number.isFinite(score(r)) && (best === null || score(r) > score(best))) best = r;
  return best;
}

function pickMoments(adam: Record<string, AdamW>, k: 'm' | 'v'): PhiWeights {
  const out = {} as PhiWeights;
  for (const n of PHI_PARAMS) out[n] = adam[n][k];
  return out;
}
