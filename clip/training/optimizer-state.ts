/**
 * Where the trainer keeps a network's weights and AdamW moments between steps:
 *   - HostAdamW: Float32Arrays on the host, AdamW in JavaScript (adamw.ts); the training graph gets the weights
 *     uploaded and returns its gradients each step;
 *   - DeviceAdamW: tensors on the device, AdamW as one graph (optimizer-graph.ts) that takes the training graph's
 *     gradients where they are and leaves new weights and moments there. Only the [8] hyper-parameters of each
 *     parameter go up per step; the host copy is downloaded when asked (evaluation, checkpoints, the end).
 * Both run the same AdamW (per-parameter options, a schedule's rate set before each step, PyTorch's step count).
 */
import { DeviceTransfer, disposeTensor } from '../runtime/device-tensors.ts';
import { cachedGraphPath, createSession, floatTensor, type ort, type SessionOptions } from '../runtime/onnx-session.ts';
import { AdamW, type AdamWOptions } from './adamw.ts';
import { adamwHyper } from './adamw-graph.ts';
import { OPTIMIZER_GRAPH_VERSION, buildAdamWGraph, optimizerName } from './optimizer-graph.ts';
import { type ParamSpec, TrainedParams } from './trained-params.ts';

type Weights = Record<string, Float32Array>;

export interface OptimizerState<W extends Weights> {
  /** what a training step feeds, and where its gradients go */
  readonly params: TrainedParams;
  /** AdamW steps taken */
  readonly steps: number;
  /** one AdamW step of every parameter with the gradients in `params`; `lr`: a schedule's rate, else each parameter's own */
  step(lr?: number): Promise<void>;
  /** the weights on the host (downloaded from the device once per change) */
  weights(): Promise<W>;
  /** AdamW's first and second moments on the host */
  moments(): Promise<{ m: W; v: W }>;
  /** bytes moved host → device and device → host by the optimizer and its transfers */
  readonly traffic: { toDevice: number; toHost: number };
  release(): Promise<void>;
}

/** Where training starts: initial weights (moments zero, step 0) or a checkpoint's state. */
export interface OptimizerStart<W> { weights: W; m?: W; v?: W; steps: number }

/** The device path when `onDevice` (the trainer passes `stateOnDevice(opts)`), else the host one. */
export async function openOptimizer<W extends Weights>(specs: readonly ParamSpec[], options: (name: string) => AdamWOptions, start: OptimizerStart<W>,
  onDevice: boolean, opts: SessionOptions = {}): Promise<OptimizerState<W>> {
  return onDevice ? DeviceAdamW.create(specs, options, start, opts) : new HostAdamW(specs, options, start, opts);
}

export class HostAdamW<W extends Weights> implements OptimizerState<W> {
  readonly params: TrainedParams;
  private readonly adam: Record<string, AdamW> = {};
  private readonly transfer: DeviceTransfer;
  private readonly w: W;

  constructor(private readonly specs: readonly ParamSpec[], options: (name: string) => AdamWOptions, start: OptimizerStart<W>, opts: SessionOptions) {
    this.params = new TrainedParams(specs);
    this.w = start.weights;
    this.transfer = new DeviceTransfer(opts);
    // one options object per parameter: a schedule sets its lr before every step
    for (const { name, shape } of specs) {
      const a = (this.adam[name] = new AdamW(this.w[name].length, { ...options(name) }));
      if (start.m) a.m.set(start.m[name]);
      if (start.v) a.v.set(start.v[name]);
      a.step = start.steps;
      // the tensors wrap the arrays AdamW updates in place: fed as they are each step
      this.params.setValue(name, floatTensor(this.w[name], shape));
    }
  }

  get steps(): number { return this.specs.length ? this.adam[this.specs[0].name].step : 0; }

  get traffic(): { toDevice: number; toHost: number } { return { toDevice: this.transfer.uploaded, toHost: this.transfer.downloaded }; }

  async step(lr?: number): Promise<void> {
    for (const { name } of this.specs) {
      const a = this.adam[name];
      if (lr !== undefined) a.opts.lr = lr;
      // a gradient left on the device (a session that keeps state there) comes down
      a.update(this.w[name], await this.transfer.download(this.params.grad(name)));
    }
    this.params.clearGrads();
  }

  weights(): Promise<W> { return Promise.resolve(this.w); }

  moments(): Promise<{ m: W; v: W }> {
    const m: Weights = {}, v: Weights = {};
    for (const { name } of this.specs) { m[name] = this.adam[name].m; v[name] = this.adam[name].v; }
    return Promise.resolve({ m: m as W, v: v as W });
  }

  async release(): Promise<void> {
    this.params.dispose();
    await this.transfer.release();
  }
}

export class DeviceAdamW<W extends Weights> implements OptimizerState<W> {
  readonly params: TrainedParams;
  private readonly m = new Map<string, ort.Tensor>();
  private readonly v = new Map<string, ort.Tensor>();
  private host: W | null = null;
  private hyperBytes = 0;
  steps = 0;

  private constructor(private readonly specs: readonly ParamSpec[], private readonly options: (name: string) => AdamWOptions,
    private readonly session: ort.InferenceSession, private readonly transfer: DeviceTransfer) {
    this.params = new TrainedParams(specs);
  }

  static async create<W extends Weights>(specs: readonly ParamSpec[], options: (name: string) => AdamWOptions, start: OptimizerStart<W>,
    opts: SessionOptions): Promise<DeviceAdamW<W>> {
    const path = cachedGraphPath({ kind: 'adamw', params: specs, version: OPTIMIZER_GRAPH_VERSION }, () => buildAdamWGraph(specs), opts.cacheDir);
    const session = await createSession(path, { ...opts, outputLocation: 'gpu-buffer' });
    const s = new DeviceAdamW<W>(specs, options, session, new DeviceTransfer(opts));
    await s.load(start);
    return s;
  }

  get traffic(): { toDevice: number; toHost: number } {
    return { toDevice: this.transfer.uploaded + this.hyperBytes, toHost: this.transfer.downloaded };
  }

  async step(lr?: number): Promise<void> {
    const n = optimizerName;
    const feeds: Record<string, ort.Tensor> = {};
    for (const { name } of this.specs) {
      const o = this.options(name);
      const hp = adamwHyper(lr === undefined ? o : { ...o, lr }, this.steps + 1);
      this.hyperBytes += hp.byteLength;
      feeds[n.weight(name)] = this.params.value(name);
      feeds[n.grad(name)] = this.params.grad(name);
      feeds[n.m(name)] = this.m.get(name)!;
      feeds[n.v(name)] = this.v.get(name)!;
      feeds[n.hyper(name)] = floatTensor(hp, [hp.length]);
    }
    const out = await this.session.run(feeds);
    for (const { name } of this.specs) {
      this.params.setValue(name, out[n.newWeight(name)]);
      replace(this.m, name, out[n.newM(name)]);
      replace(this.v, name, out[n.newV(name)]);
    }
    this.params.clearGrads();
    this.steps++;
    this.host = null;
  }

  async weights(): Promise<W> {
    if (!this.host) {
      const w: Weights = {};
      for (const { name } of this.specs) w[name] = await this.transfer.download(this.params.value(name));
      this.host = w as W;
    }
    return this.host;
  }

  async moments(): Promise<{ m: W; v: W }> {
    const m: Weights = {}, v: Weights = {};
    for (const { name } of this.specs) {
      m[name] = await this.transfer.download(this.m.get(name)!);
      v[name] = await this.transfer.download(this.v.get(name)!);
    }
    return { m: m as W, v: v as W };
  }

  private async load(start: OptimizerStart<W>): Promise<void> {
    for (const { name, shape } of this.specs) {
      const size = start.weights[name].length;
      this.params.setValue(name, await this.transfer.upload(start.weights[name], shape));
      replace(this.m, name, await this.transfer.upload(start.m?.[name] ?? new Float32Array(size), shape));
      replace(this.v, name, await this.transfer.upload(start.v?.[name] ?? new Float32Array(size), shape));
    }
    this.steps = start.steps;
    this.host = start.weights; // what was just uploaded: no download until the next step
  }

  async release(): Promise<void> {
    this.params.dispose();
    for (const t of [...this.m.values(), ...this.v.values()]) disposeTensor(t);
    this.m.clear();
    this.v.clear();
    await Promise.all([this.session.release(), this.transfer.release()]);
  }
}

function replace(map: Map<string, ort.Tensor>, name: string, t: ort.Tensor): void {
  const old = map.get(name);
  if (old !== t) disposeTensor(old);
  map.set(name, t);
}
