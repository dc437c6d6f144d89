/**
 * One ONNX session of a training graph whose trained weights are graph inputs (they change every step)
 * and whose gradients are outputs `grad_<param>`. The weights come as host arrays in PyTorch layout (tests,
 * held-out evaluation), and the gradients are then returned as host arrays; or as the trainer's TrainedParams,
 * whose tensors are fed as they are and which receive the gradients as tensors. With state on the device
 * (`stateOnDevice`: WebGPU by default) a training session leaves its gradients there for the optimizer graph,
 * and only the other outputs (losses, tokens) come back. The network-specific feeds and outputs stay with each
 * network's session.
 */
import type { Graph } from '../graph/graph.ts';
import { DeviceTransfer, disposeTensor, stateOnDevice, tensorBytes } from '../runtime/device-tensors.ts';
import { cachedGraphPath, createSession, floatTensor, type ort, type SessionOptions } from '../runtime/onnx-session.ts';
import { type ParamSpec, TrainedParams } from './trained-params.ts';

export const gradName = (param: string): string => `grad_${param}`;

/** Bytes a session's runs moved between host and device (as placed: host-side feeds up, host-side outputs down). */
export interface Traffic { toDevice: number; toHost: number; runs: number }

export class TrainingGraphSession {
  private transfer: DeviceTransfer | null = null;
  readonly traffic: Traffic = { toDevice: 0, toHost: 0, runs: 0 };

  /** the outputs that stay on the device (the gradients, with state there): not host traffic */
  private readonly keptOutputs: ReadonlySet<string>;

  private constructor(private readonly session: ort.InferenceSession, readonly params: readonly ParamSpec[], readonly withGradients: boolean,
    gradsOnDevice: boolean, private readonly opts: SessionOptions) {
    this.keptOutputs = new Set(gradsOnDevice ? params.map((p) => gradName(p.name)) : []);
  }

  /** `key`: the graph cache key (kind, model, dims, version); `build` makes the graph on a cache miss; `params`: the trained inputs. */
  static async create(key: Record<string, unknown>, build: () => Graph, params: readonly ParamSpec[], withGradients: boolean,
    opts: SessionOptions = {}): Promise<TrainingGraphSession> {
    const path = cachedGraphPath(key, build, opts.cacheDir);
    const gradsOnDevice = withGradients && stateOnDevice(opts);
    const outputLocation = gradsOnDevice ? Object.fromEntries(params.map((p) => [gradName(p.name), 'gpu-buffer' as const])) : undefined;
    return new TrainingGraphSession(await createSession(path, { ...opts, outputLocation }), params, withGradients, gradsOnDevice, opts);
  }

  /** Frees the native session now rather than at garbage collection. */
  async release(): Promise<void> {
    await Promise.all([this.session.release(), this.transfer?.release()]);
  }

  /**
   * Runs the graph with the trained parameters fed under their names. With gradients: host weights get their
   * `grad_` outputs back as host arrays; TrainedParams receive them (left on the device when state stays there).
   */
  async run(feeds: Record<string, ort.Tensor>, weights: Readonly<Record<string, Float32Array>> | TrainedParams):
    Promise<{ outputs: ort.InferenceSession.OnnxValueMapType; grads: Record<string, Float32Array> | null }> {
    const trained = weights instanceof TrainedParams;
    // counted as placed, also on the CPU provider: TrainedParams with state on the device are not host feeds
    for (const t of Object.values(feeds)) this.traffic.toDevice += tensorBytes(t);
    const paramsKept = trained && stateOnDevice(this.opts);
    for (const p of this.params) {
      if (trained) {
        feeds[p.name] = weights.value(p.name);
      } else {
        const data = weights[p.name];
        if (!data) throw new Error(`no weights for parameter ${p.name}`);
        feeds[p.name] = floatTensor(data, p.shape);
      }
      if (!paramsKept) this.traffic.toDevice += tensorBytes(feeds[p.name]);
    }
    const outputs = await this.session.run(feeds);
    this.traffic.runs++;
    for (const [k, t] of Object.entries(outputs)) if (!this.keptOutputs.has(k)) this.traffic.toHost += tensorBytes(t);
    if (!this.withGradients) return { outputs, grads: null };
    if (trained) {
      for (const p of this.params) weights.setGrad(p.name, outputs[gradName(p.name)]);
      return { outputs, grads: null };
    }
    const grads: Record<string, Float32Array> = {};
    for (const p of this.params) {
      const t = outputs[gradName(p.name)];
      if (t.location === 'gpu-buffer') {
        this.transfer ??= new DeviceTransfer(this.opts);
        grads[p.name] = await this.transfer.download(t);
        disposeTensor(t);
      } else {
        grads[p.name] = t.data as Float32Array;
      }
    }
    return { outputs, grads };
  }
}
