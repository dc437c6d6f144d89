/**
 * Weights-only snapshots beside a network's resumable checkpoints, in the network's own state-dict
 * layout (what SEARLE's save_phi and LinCIR's keep): `<label>-NNNNN.safetensors` every checkpoint-every
 * epochs and `<label>-best.safetensors`, the epoch with the best model-selection score.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../weights/safetensors.ts';
import { type CheckpointLayout, checkpointDir } from './training-checkpoint.ts';

export const snapshotName = (label: string, epoch: number): string => `${label}-${String(epoch).padStart(5, '0')}.safetensors`;
export const bestSnapshotName = (label: string): string => `${label}-best.safetensors`;

/** The weights as named tensors in the layout's order and shapes. */
export function stateDict<D>(layout: CheckpointLayout<D, string>, dims: D, weights: Record<string, Float32Array>) {
  return layout.names(dims).map((n) => ({ name: n, shape: layout.shape(dims, n), data: weights[n] }));
}

export async function writeSnapshot<D>(outDir: string, label: string, layout: CheckpointLayout<D, string>, epoch: number, dims: D,
  weights: Record<string, Float32Array>): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, snapshotName(label, epoch));
  await writeSafetensors(path, stateDict(layout, dims, weights), { format: 'pt', 'starword.epoch': String(epoch) });
  return path;
}

export interface BestSnapshot<D> { epoch: number; dims: D; weights: Record<string, Float32Array>; criterion: string; value: number }

export async function writeBestSnapshot<D>(outDir: string, label: string, layout: CheckpointLayout<D, string>, b: BestSnapshot<D>): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, bestSnapshotName(label));
  await writeSafetensors(path, stateDict(layout, b.dims, b.weights), {
    format: 'pt', 'starword.epoch': String(b.epoch), 'starword.criterion': b.criterion, 'starword.value': String(b.value),
  });
  return path;
}

/** The epochs of a folder's `<label>-NNNNN` snapshots, ascending. */
export function listSnapshots(outDir: string, label: string): number[] {
  const dir = checkpointDir(outDir);
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${label}-(\\d{5,})\\.safetensors$`);
  return readdirSync(dir).map((n) => re.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).sort((a, b) => a - b);
}
