/**
 * One ONNX session of a training graph whose trained weights are graph inputs (they change every step)
 * and whose gradients are outputs `grad_<param>`: feeds the weights in PyTorch layout, reads the
 * gradients back. The network-specific feeds and outputs stay with each network's session.
 */
import type { Graph } from '../graph/graph.ts';
import { cachedGraphPath, createSession, floatTensor, type ort, type SessionOptions } from '../runtime/onnx-session.ts';

export const gradName = (param: string): string => `grad_${param}`;

export class TrainingGraphSession {
  private constructor(private readonly session: ort.InferenceSession, readonly withGradients: boolean) {}

  /** `key`: the graph cache key (kind, model, dims, version); `build` makes the graph on a cache miss. */
  static async create(key: Record<string, unknown>, build: () => Graph, withGradients: boolean, opts: SessionOptions = {}): Promise<TrainingGraphSession> {
    const path = cachedGraphPath(key, build, opts.cacheDir);
    return new TrainingGraphSession(await createSession(path, opts), withGradients);
  }

  /** Frees the native session now rather than at garbage collection. */
  async release(): Promise<void> { await this.session.release(); }

  /** Runs the graph; `params` are fed under their names, and with gradients their `grad_` outputs are read. */
  async run(feeds: Record<string, ort.Tensor>, params: readonly { name: string; shape: number[]; data: Float32Array }[]):
    Promise<{ outputs: ort.InferenceSession.OnnxValueMapType; grads: Record<string, Float32Array> | null }> {
    for (const p of params) feeds[p.name] = floatTensor(p.data, p.shape);
    const outputs = await this.session.run(feeds);
    let grads: Record<string, Float32Array> | null = null;
    if (this.withGradients) {
      grads = {};
      for (const p of params) grads[p.name] = outputs[gradName(p.name)].data as Float32Array;
    }
    return { outputs, grads };
  }
}
