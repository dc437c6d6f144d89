/**
 * `starword bench matmul`: the device's own fp32 matrix roof through the same ONNX Runtime provider the other
 * benchmarks use, so their GFLOP/s can be stated as a share of it. One graph chains `chain` N×N MatMuls
 * (y = x·W₁·W₂…, weights scaled by 1/√N so values stay O(1)): the input upload and output read-back are paid once
 * per `chain` products, as a GPU keeps intermediate results on the device.
 */
import { Graph } from '../../clip/graph/graph.ts';
import { matmul } from '../../clip/graph/ops.ts';
import { type Device, cachedGraphPath, createSession, floatTensor } from '../../clip/runtime/onnx-session.ts';
import { defaultCacheDir } from '../../util/cache-dir.ts';
import { Rng } from '../../util/rng.ts';
import { median } from './median.ts';

export interface BenchMatmulOptions { size: number; chain: number; rounds: number; threads?: number; device?: Device; cacheDir?: string }
export interface BenchMatmulResult { gflops: number; roundMs: number[]; flopsPerRun: number }

function buildChain(n: number, chain: number): Graph {
  const G = new Graph();
  let x = G.input('x', 'float', [n, n]);
  const rng = new Rng(5);
  for (let i = 0; i < chain; i++) x = matmul(G, x, G.weight(`w${i}`, [n, n], rng.fillNormal(new Float32Array(n * n), 1 / Math.sqrt(n))));
  G.output(x, 'y');
  return G;
}

export async function benchMatmul(o: BenchMatmulOptions, log: (line: string) => void = () => {}): Promise<BenchMatmulResult> {
  const path = cachedGraphPath({ kind: 'bench-matmul', n: o.size, chain: o.chain }, () => buildChain(o.size, o.chain), o.cacheDir ?? defaultCacheDir());
  const session = await createSession(path, { threads: o.threads, device: o.device, cacheDir: o.cacheDir });
  const x = floatTensor(new Rng(6).fillNormal(new Float32Array(o.size * o.size)), [o.size, o.size]);
  const flopsPerRun = 2 * o.size ** 3 * o.chain;
  try {
    await session.run({ x }); // warm-up: shader compilation, allocation
    const roundMs: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const t = performance.now();
      const out = await session.run({ x });
      if (!Number.isFinite((out.y.data as Float32Array)[0])) throw new Error('bench matmul: a non-finite product');
      roundMs.push(performance.now() - t);
      log(`round ${r + 1}: ${roundMs.at(-1)!.toFixed(1)} ms`);
    }
    return { gflops: flopsPerRun / (median(roundMs) / 1000) / 1e9, roundMs, flopsPerRun };
  } finally {
    await session.release();
  }
}
