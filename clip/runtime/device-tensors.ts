/**
 * Tensors that stay on the device between session runs. onnxruntime-node can leave an output on a GPU provider
 * (`preferredOutputLocation: 'gpu-buffer'`) and take such a tensor as the next run's input, but it offers no way to
 * create one from JavaScript, and `getData()` on one aborts the process (onnxruntime-node 1.30). So both
 * directions go through an Identity graph: one session that leaves its output on the device (upload) and one
 * that returns it to the host (download). On the CPU provider both are plain CPU tensors and no copy is made.
 */
import { Graph } from '../graph/graph.ts';
import { type Device, type SessionOptions, cachedGraphPath, createSession, ort } from './onnx-session.ts';

/**
 * Whether state stays on the device between runs: on WebGPU. onnxruntime-node's 'gpu-buffer' location is
 * WebGPU's; with the CUDA provider outputs come back to the host each run.
 */
export const keepsStateOnDevice = (device: Device | undefined): boolean => device === 'webgpu';

/** Whether training runs its device path: as asked (`SessionOptions.stateOnDevice`), else where state can stay there. */
export const stateOnDevice = (opts: SessionOptions | undefined): boolean => opts?.stateOnDevice ?? keepsStateOnDevice(opts?.device);

function identityGraph(rank: number, dtype: 'float' | 'int64'): Graph {
  const G = new Graph();
  const x = G.input('x', dtype, Array.from({ length: rank }, (_, i) => `d${i}`));
  G.output(G.node('Identity', [x], { shape: x.shape, dtype, needsGrad: false }), 'y');
  return G;
}

export class DeviceTransfer {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  /** bytes copied host → device and device → host through this object (the benchmark's transfer figures) */
  uploaded = 0;
  downloaded = 0;

  constructor(private readonly opts: SessionOptions) {}

  get onDevice(): boolean { return keepsStateOnDevice(this.opts.device); }

  private session(rank: number, dtype: 'float' | 'int64', toDevice: boolean): Promise<ort.InferenceSession> {
    const key = `${rank}:${dtype}:${toDevice}`;
    let s = this.sessions.get(key);
    if (!s) {
      const path = cachedGraphPath({ kind: 'device-copy', rank, dtype }, () => identityGraph(rank, dtype), this.opts.cacheDir);
      s = createSession(path, { ...this.opts, outputLocation: toDevice ? 'gpu-buffer' : 'cpu' });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** A tensor on the device holding `data` (on the CPU provider: a CPU tensor over `data` itself). */
  async upload(data: Float32Array | BigInt64Array, dims: number[]): Promise<ort.Tensor> {
    const tensor = data instanceof Float32Array ? new ort.Tensor('float32', data, dims) : new ort.Tensor('int64', data, dims);
    if (!this.onDevice) return tensor;
    const s = await this.session(dims.length, data instanceof Float32Array ? 'float' : 'int64', true);
    this.uploaded += data.byteLength;
    return (await s.run({ x: tensor })).y;
  }

  /** The values of a float tensor, copied to the host when it lives on the device. */
  async download(tensor: ort.Tensor): Promise<Float32Array> {
    if (tensor.location !== 'gpu-buffer') return tensor.data as Float32Array;
    const s = await this.session(tensor.dims.length, 'float', false);
    const data = (await s.run({ x: tensor })).y.data as Float32Array;
    this.downloaded += data.byteLength;
    return data;
  }

  async release(): Promise<void> {
    const sessions = await Promise.all(this.sessions.values());
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }
}

const ELEMENT_BYTES: Record<string, number> = { float32: 4, int32: 4, int64: 8, bool: 1, uint8: 1, int8: 1, float16: 2 };

/** A tensor's size in bytes, wherever it lives (a device tensor's data is never read: that aborts). */
export const tensorBytes = (t: ort.Tensor): number => t.size * (ELEMENT_BYTES[t.type] ?? 4);

/** Bytes of the host-side tensors among `tensors`: what a run copies to or from a GPU provider. */
export function hostBytes(tensors: Iterable<ort.Tensor>): number {
  let n = 0;
  for (const t of tensors) if (t.location !== 'gpu-buffer') n += tensorBytes(t);
  return n;
}

/** Frees a device tensor now instead of at garbage collection (a no-op for CPU tensors). */
export function disposeTensor(t: ort.Tensor | undefined): void {
  if (t && t.location === 'gpu-buffer') t.dispose();
}
