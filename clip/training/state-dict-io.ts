/**
 * A trained network's exports: an ONNX inference file (weights as initializers, `<file>.data` beside it)
 * and a safetensors state dict in the network's PyTorch layout, and reading that state dict back.
 */
import { type Graph } from '../graph/graph.ts';
import { writeOnnxModel } from '../graph/onnx-model.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../weights/safetensors.ts';
import type { CheckpointLayout } from './training-checkpoint.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { stateDict } from './snapshots.ts';

export function exportOnnx(path: string, graph: Graph, producer: string): void {
  writeOnnxModel(graph, path, producer);
}

export async function exportStateDict<D>(path: string, layout: CheckpointLayout<D, string>, dims: D, weights: Record<string, Float32Array>,
  metadata: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(path, stateDict(layout, dims, weights), { format: 'pt', ...metadata });
}

/** A state dict of the layout from safetensors; `isParam` picks the tensors to read (others are skipped). */
export async function loadStateDict<D, W extends Record<string, Float32Array>>(path: string, layout: CheckpointLayout<D, string>,
  isParam: (name: string) => boolean): Promise<{ dims: D; weights: W; metadata: Record<string, string> }> {
  let store;
  try { store = await readSafetensors(path, { want: isParam }); } catch (err) { throw new UserError(`${path}: ${errorMessage(err)}`); }
  let dims: D;
  try {
    dims = layout.dimsFromShapes((n) => (store.has(n) ? store.shape(n) : undefined));
  } catch (err) {
    throw new UserError(`${path}: ${errorMessage(err)}`);
  }
  const weights: Record<string, Float32Array> = {};
  for (const n of layout.names(dims)) weights[n] = store.get(n).slice();
  return { dims, weights: weights as W, metadata: (await readSafetensorsHeader(path)).metadata ?? {} };
}
