/** The CLIP vision encoder on ONNX Runtime (clip/towers/encoder-types.ts's ImageEncoder). */
import type { ImageEncoder } from './encoder-types.ts';
import { Graph } from '../graph/graph.ts';
import { type SessionOptions, cachedGraphPath, createSession, floatTensor, type ort } from '../runtime/onnx-session.ts';
import { visionTower } from './vision-graph.ts';
import type { WeightSource } from '../weights/weight-source.ts';

export interface ImageEncoderOptions extends SessionOptions {
  /** images per session.run (default 32) */
  batchSize?: number;
  /**
   * build the encoder layers from primitive ops instead of ORT's fused kernels. Default: fused on the CPU, primitive
   * on WebGPU, where onnxruntime-node 1.30's Attention kernel drifts once a sequence exceeds 32 tokens (measured on
   * lavapipe: 1.5e-7 relative to the CPU at 17 and 26 tokens, 4.2e-4 at 37 and 1.6e-4 at 50, ViT-B/32's count),
   * while the primitive graph stays within 2.5e-7 and runs every op on the GPU as well
   */
  unfused?: boolean;
}

export function buildVisionGraph(src: WeightSource, fused = true): Graph {
  const G = new Graph();
  const S = src.config.vision.imageSize;
  const pixels = G.input('pixels', 'float', ['B', src.config.vision.channels, S, S]);
  G.output(visionTower(G, src, pixels, fused), 'features');
  return G;
}

class OrtImageEncoder implements ImageEncoder {
  readonly dim: number;
  readonly imageSize: number;
  constructor(private readonly src: WeightSource, private readonly session: ort.InferenceSession, private readonly batchSize: number) {
    this.dim = src.config.projectionDim;
    this.imageSize = src.config.vision.imageSize;
  }

  async release(): Promise<void> { await this.session.release(); }

  async encodePixels(pixels: Float32Array[]): Promise<Float32Array[]> {
    const C = this.src.config.vision.channels, S = this.imageSize, per = C * S * S;
    const out: Float32Array[] = [];
    for (let start = 0; start < pixels.length; start += this.batchSize) {
      const batch = pixels.slice(start, start + this.batchSize);
      const data = new Float32Array(batch.length * per);
      batch.forEach((p, i) => {
        if (p.length !== per) throw new Error(`image tensor of ${p.length} values, the model wants ${C}×${S}×${S}`);
        data.set(p, i * per);
      });
      const res = await this.session.run({ pixels: floatTensor(data, [batch.length, C, S, S]) });
      const feats = res.features.data as Float32Array;
      for (let i = 0; i < batch.length; i++) out.push(feats.slice(i * this.dim, (i + 1) * this.dim));
    }
    return out;
  }
}

export async function createImageEncoder(src: WeightSource, opts: ImageEncoderOptions = {}): Promise<ImageEncoder> {
  const unfused = opts.unfused ?? opts.device === 'webgpu';
  const path = cachedGraphPath({ kind: 'vision', model: src.hash, layers: unfused ? 'primitive' : 'fused-v1' },
    () => buildVisionGraph(src, !unfused), opts.cacheDir);
  const session = await createSession(path, opts);
  return new OrtImageEncoder(src, session, opts.batchSize ?? 32);
}
