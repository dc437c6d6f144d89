import type { ClipConfig } from './config.ts';

/** What graph builders need from a loaded checkpoint (clip/weights/clip-model.ts's ClipModel satisfies it). */
export interface WeightSource {
  readonly config: ClipConfig;
  /** content hash of the checkpoint: graph caches are keyed by it */
  readonly hash: string;
  /** a tensor in Hugging Face layout, as float32 */
  tensor(name: string): Float32Array;
}

/** [rows, cols] row-major → its transpose [cols, rows]. Linear weights are stored [out, in]; MatMul wants [in, out]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c];
  }
  return out;
}
