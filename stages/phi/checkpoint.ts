/**
 * phi's training checkpoints, in clip/training-checkpoint.ts's resumable layout (weights, AdamW
 * moments, epoch, metrics, config hash; the last two kept).
 *
 * Beside them, weights-only snapshots in SEARLE's state-dict layout (what train_phi.py's save_phi
 * keeps): `phi-NNNNN.safetensors` every checkpoint-every epochs (SEARLE's phi_N.pt), and
 * `phi-best.safetensors`, the epoch with the best CIRR val score when phi is validated. The final
 * `<out>/phi.safetensors` is the last epoch (SEARLE's phi_last.pt).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader, writeSafetensors } from '../../clip/safetensors.ts';
import { type CheckpointLayout, type TrainingCheckpoint, checkpointDir, readLatestTrainingCheckpoint, writeTrainingCheckpoint } from '../../clip/training-checkpoint.ts';
import { UserError } from '../../util/errors.ts';
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';
import { PHI_PARAMS, type PhiDims, type PhiParamName, type PhiWeights, dimsFromShapes, paramShape } from './phi-net.ts';

export { checkpointDir } from '../../clip/training-checkpoint.ts';

export const CHECKPOINT_FORMAT = 'starword-phi-checkpoint';

export type PhiCheckpoint = TrainingCheckpoint<PhiDims, PhiWeights, PhiMetricsRow>;

const LAYOUT: CheckpointLayout<PhiDims, PhiParamName> = {
  format: CHECKPOINT_FORMAT, label: 'phi', names: () => PHI_PARAMS, shape: paramShape, dimsFromShapes,
};

export function writeCheckpoint(outDir: string, c: PhiCheckpoint): Promise<string> {
  return writeTrainingCheckpoint(outDir, LAYOUT, c);
}

/** The newest checkpoint under `outDir`, or null. */
export function readLatestCheckpoint(outDir: string): Promise<PhiCheckpoint | null> {
  return readLatestTrainingCheckpoint<PhiDims, PhiParamName, PhiWeights, PhiMetricsRow>(outDir, LAYOUT);
}

const snapshotRe = /^phi-(\d{5,})\.safetensors$/;
const snapshotName = (epoch: number) => `phi-${String(epoch).padStart(5, '0')}.safetensors`;
export const BEST_SNAPSHOT = 'phi-best.safetensors';

function stateDict(dims: PhiDims, weights: PhiWeights) {
  return PHI_PARAMS.map((n) => ({ name: n, shape: paramShape(dims, n), data: weights[n] }));
}

/** SEARLE's phi_N: the weights after epoch N, SEARLE's layout. */
export async function writeSnapshot(outDir: string, epoch: number, dims: PhiDims, weights: PhiWeights): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, snapshotName(epoch));
  await writeSafetensors(path, stateDict(dims, weights), { format: 'pt', 'starword.epoch': String(epoch) });
  return path;
}

export interface BestSnapshot { epoch: number; dims: PhiDims; weights: PhiWeights; criterion: string; value: number }

export async function writeBestSnapshot(outDir: string, b: BestSnapshot): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, BEST_SNAPSHOT);
  await writeSafetensors(path, stateDict(b.dims, b.weights), {
    format: 'pt', 'starword.epoch': String(b.epoch), 'starword.criterion': b.criterion, 'starword.value': String(b.value),
  });
  return path;
}

export function listSnapshots(outDir: string): number[] {
  const dir = checkpointDir(outDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((n) => snapshotRe.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).sort((a, b) => a - b);
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
