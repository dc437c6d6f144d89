/**
 * ONNX Runtime sessions over graphs that starword builds itself. A built graph is cached on disk under
 * `<cache>/graphs/<key>/` (model.onnx + model.onnx.data), keyed by the checkpoint's hash, the graph kind,
 * its options and GRAPH_BUILDER_VERSION, so a second run loads instead of rebuilding.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { defaultCacheDir } from '../../util/cache-dir.ts';
import { buildAtomically } from '../../util/atomic-write.ts';
import { withFsErrors } from '../../util/fs-errors.ts';
import { hashJson } from '../../util/hash.ts';
import { sweepStaleTemps } from '../../util/temp-name.ts';
import { openDevice } from './device.ts';
import type { Graph } from '../graph/graph.ts';
import { writeOnnxModel } from '../graph/onnx-model.ts';

/** Bump when any graph builder changes what it emits: old cached graphs are then ignored. */
export const GRAPH_BUILDER_VERSION = 5;

/**
 * Where ONNX Runtime runs a graph: its CPU provider (default), its WebGPU provider (bundled in
 * onnxruntime-node: Vulkan on Linux, Metal on macOS, D3D12 on Windows), or CUDA (a separate install).
 */
export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const;
export type Device = typeof DEVICES[number];

export interface SessionOptions {
  /** intra-op threads (default: ORT's choice, all cores) */
  threads?: number;
  /** 'cpu' (default), 'webgpu' or 'cuda' */
  device?: Device;
  /** graph cache folder (default $STARWORD_CACHE_DIR or ~/.cache/starword) */
  cacheDir?: string;
  /**
   * ORT's profiler on: each session writes `<prefix>_<date>.json` when released, one event per node run with the
   * provider that ran it (the placement test reads it; also a way for users to see where time goes)
   */
  profilePrefix?: string;
  /**
   * where outputs are returned: 'cpu' (default), or 'gpu-buffer' to leave them on the WebGPU provider (all outputs, or
   * per output name; clip/runtime/device-tensors.ts). Ignored on other providers.
   */
  outputLocation?: OutputLocation | Record<string, OutputLocation>;
  /**
   * OTI and training keep their state (OTI: v*, AdamW moments, EMA; training: weights, gradients, moments) on the
   * device between steps (default: on WebGPU; clip/runtime/device-tensors.ts `stateOnDevice`). On the CPU provider it runs the same code
   * over CPU tensors, which is how tests check that path without a GPU.
   */
  stateOnDevice?: boolean;
}

export type OutputLocation = 'cpu' | 'gpu-buffer';


/** Path of the cached graph for `key`, building it with `build` if absent. */
export function cachedGraphPath(key: Record<string, unknown>, build: () => Graph, cacheDir = defaultCacheDir()): string {
  const id = hashJson({ ...key, builder: GRAPH_BUILDER_VERSION });
  const dir = join(cacheDir, 'graphs', `${String(key.kind ?? 'graph')}-${id}`);
  const modelPath = join(dir, 'model.onnx');
  if (existsSync(modelPath)) return modelPath;
  // build into a temporary folder of this process alone and rename (util/atomic-write.ts): a crash
  // never leaves a half-written entry, and builders in containers sharing the cache never collide
  const graphsDir = join(cacheDir, 'graphs');
  withFsErrors(graphsDir, 'creating the graph cache', () => mkdirSync(graphsDir, { recursive: true }));
  sweepStaleTemps(graphsDir, false); // only this host's dead builders' leftovers
  try {
    buildAtomically(dir, (tmp) => {
      mkdirSync(tmp);
      writeOnnxModel(build(), join(tmp, 'model.onnx'));
    }, 'building the graph cache');
  } catch (err) {
    // another process won the race to rename: use theirs (ours was removed, never theirs)
    if (!existsSync(modelPath)) throw err;
  }
  return modelPath;
}

/** Providers of a device, in ORT's order of preference: nodes a GPU provider lacks fall back to the CPU's. */
export function executionProviders(device: Device = 'cpu'): string[] {
  return device === 'cpu' ? ['cpu'] : [device, 'cpu'];
}

export async function createSession(modelPath: string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  // a GPU that cannot start is one line naming what to install (once per process), not an abort inside Dawn
  if (opts.device && opts.device !== 'cpu') await openDevice(opts.device, opts.cacheDir);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3, // errors only: ORT's warnings are not the user's business
    executionProviders: executionProviders(opts.device),
    ...(opts.outputLocation && opts.device === 'webgpu' ? { preferredOutputLocation: opts.outputLocation } : {}),
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
  };
  return ort.InferenceSession.create(modelPath, sessionOptions);
}

export function int64Tensor(data: BigInt64Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', data, dims);
}

export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export { ort };
