/**
 * phi's training checkpoints, in clip/training/training-checkpoint.ts's resumable layout (weights, AdamW
 * moments, epoch, metrics, config hash; the last two kept).
 *
 * Beside them, weights-only snapshots in SEARLE's state-dict layout (what train_phi.py's save_phi
 * keeps): `phi-NNNNN.safetensors` every checkpoint-every epochs (SEARLE's phi_N.pt), and
 * `phi-best.safetensors`, the epoch with the best CIRR val score when phi is validated. The final
 * `<out>/phi.safetensors` is the last epoch (SEARLE's phi_last.pt).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../../clip/weights/safetensors.ts';
import { type CheckpointLayout, type TrainingCheckpoint, checkpointDir, readLatestTrainingCheckpoint, writeTrainingCheckpoint } from '../../clip/training/training-checkpoint.ts';
import * as snapshots from '../../clip/training/snapshots.ts';
import { UserError } from '../../util/errors.ts';
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';
import { type PhiDims, type PhiWeights, searlePhiLayout } from './phi-net.ts';

export { checkpointDir } from '../../clip/training/training-checkpoint.ts';

export const CHECKPOINT_FORMAT = 'starword-phi-checkpoint';

export type PhiCheckpoint = TrainingCheckpoint<PhiDims, PhiWeights, PhiMetricsRow>;

/** phi for the shared trainer and checkpoints (SEARLE's state-dict names). */
export const PHI_LAYOUT: CheckpointLayout<PhiDims, string> = searlePhiLayout(CHECKPOINT_FORMAT, 'phi');

export function writeCheckpoint(outDir: string, c: PhiCheckpoint): Promise<string> {
  return writeTrainingCheckpoint(outDir, PHI_LAYOUT, c);
}

/** The newest checkpoint under `outDir`, or null. */
export function readLatestCheckpoint(outDir: string): Promise<PhiCheckpoint | null> {
  return readLatestTrainingCheckpoint<PhiDims, string, PhiWeights, PhiMetricsRow>(outDir, PHI_LAYOUT);
}

const snapshotName = (epoch: number) => snapshots.snapshotName('phi', epoch);
export const BEST_SNAPSHOT = snapshots.bestSnapshotName('phi');

/** SEARLE's phi_N: the weights after epoch N, SEARLE's layout. */
export function writeSnapshot(outDir: string, epoch: number, dims: PhiDims, weights: PhiWeights): Promise<string> {
  return snapshots.writeSnapshot(outDir, 'phi', PHI_LAYOUT, epoch, dims, weights);
}

export interface BestSnapshot { epoch: number; dims: PhiDims; weights: PhiWeights; criterion: string; value: number }

export function writeBestSnapshot(outDir: string, b: BestSnapshot): Promise<string> {
  return snapshots.writeBestSnapshot(outDir, 'phi', PHI_LAYOUT, b);
}

export function listSnapshots(outDir: string): number[] {
  return snapshots.listSnapshots(outDir, 'phi');
}

/** Which phi of a training folder: the best validated epoch, the last one, or epoch N's snapshot. */
export type CheckpointChoice = 'best' | 'last' | number;

export function parseCheckpointChoice(s: string): CheckpointChoice {
  if (s === 'best' || s === 'last') return s;
  if (/^\d+$/.test(s) && Number(s) >= 1) return Number(s);
  throw new UserError(`--checkpoint must be best, last or an epoch number, got '${s}'`);
}

export interface ResolvedCheckpoint { path: string; epoch: number; name: string }

/**
 * The safetensors file of a phi output folder for a choice. No choice (undefined): the best validated
 * epoch when there is one, else the last. `lastFile` is the folder's final export (phi.safetensors).
 */
export async function resolveCheckpoint(outDir: string, lastFile: string, choice: CheckpointChoice | undefined,
  log?: (line: string) => void): Promise<ResolvedCheckpoint> {
  const epochOf = async (path: string) => Number((await readSafetensorsHeader(path)).metadata?.['starword.epoch'] ?? NaN);
  const bestPath = join(checkpointDir(outDir), BEST_SNAPSHOT);
  const c = choice ?? (existsSync(bestPath) ? 'best' : 'last');
  if (choice === undefined && c === 'last') log?.(`${outDir}: phi was not validated (no --val-cirr), using the last epoch`);
  if (c === 'best') {
    if (!existsSync(bestPath)) throw new UserError(`${outDir}: no best checkpoint (phi was trained without --val-cirr); use --checkpoint last or N`);
    return { path: bestPath, epoch: await epochOf(bestPath), name: 'best' };
  }
  if (c === 'last') {
    if (!existsSync(lastFile)) throw new UserError(`${outDir}: no ${lastFile.split('/').pop()} (phi has not finished a run here)`);
    return { path: lastFile, epoch: await epochOf(lastFile), name: 'last' };
  }
  const have = listSnapshots(outDir);
  if (!have.includes(c)) throw new UserError(`${outDir}: no checkpoint of epoch ${c} (have ${have.length ? have.join(', ') : 'none'})`);
  return { path: join(checkpointDir(outDir), snapshotName(c)), epoch: c, name: String(c) };
}
