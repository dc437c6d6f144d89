/**
 * phi training checkpoints: weights, AdamW moments and step, the epoch reached, the metrics so far and a
 * hash of the options that shape training, in one safetensors file written atomically (tmp + rename).
 * The random draws of an epoch come from a generator seeded by (seed, epoch), so the epoch number is
 * the whole generator state: resuming after epoch e replays epoch e + 1 exactly as an unbroken run.
 * The last two checkpoints are kept.
 *
 * Beside them, weights-only snapshots in SEARLE's state-dict layout (what train_phi.py's save_phi
 * keeps): `phi-NNNNN.safetensors` every checkpoint-every epochs (SEARLE's phi_N.pt), and
 * `phi-best.safetensors`, the epoch with the best CIRR val score when phi is validated. The final
 * `<out>/phi.safetensors` is the last epoch (SEARLE's phi_last.pt).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../clip/safetensors.ts';
import { UserError } from '../../util/errors.ts';
import type { PhiMetricsRow } from '../../schemas/phi-metrics.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights, dimsFromShapes, paramShape } from './phi-net.ts';

export const CHECKPOINT_FORMAT = 'starword-phi-checkpoint';
const KEEP = 2;

export interface PhiCheckpoint {
  epoch: number;
  /** AdamW steps taken */
  steps: number;
  dims: PhiDims;
  weights: PhiWeights;
  m: PhiWeights;
  v: PhiWeights;
  /** hash of the options a resumed run must share */
  configHash: string;
  metrics: PhiMetricsRow[];
}

const fileRe = /^epoch-(\d{5,})\.safetensors$/;
const fileName = (epoch: number) => `epoch-${String(epoch).padStart(5, '0')}.safetensors`;

export function checkpointDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

function listCheckpoints(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((n) => fileRe.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).sort((a, b) => a - b);
}

export async function writeCheckpoint(outDir: string, c: PhiCheckpoint): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName(c.epoch));
  const tensors = PHI_PARAMS.flatMap((n) => [
    { name: n, shape: paramShape(c.dims, n), data: c.weights[n] },
    { name: `adam_m.${n}`, shape: paramShape(c.dims, n), data: c.m[n] },
    { name: `adam_v.${n}`, shape: paramShape(c.dims, n), data: c.v[n] },
  ]);
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT, epoch: String(c.epoch), steps: String(c.steps), config_hash: c.configHash,
    metrics: JSON.stringify(c.metrics), // NaN becomes null here and NaN again on reading
  });
  for (const e of listCheckpoints(dir).slice(0, -KEEP)) rmSync(join(dir, fileName(e)), { force: true });
  return path;
}

/** The newest checkpoint under `outDir`, or null. */
export async function readLatestCheckpoint(outDir: string): Promise<PhiCheckpoint | null> {
  const dir = checkpointDir(outDir);
  const epochs = listCheckpoints(dir);
  if (!epochs.length) return null;
  const path = join(dir, fileName(epochs[epochs.length - 1]));
  const store = await readSafetensors(path);
  const meta = (await readSafetensorsHeader(path)).metadata ?? {};
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: not a starword phi checkpoint`);
  const dims = dimsFromShapes((n) => (store.has(n) ? store.shape(n) : undefined));
  const pick = (prefix: string) => {
    const w = {} as PhiWeights;
    for (const n of PHI_PARAMS) w[n] = store.get(`${prefix}${n}`).slice();
    return w;
  };
  const metrics = (JSON.parse(meta.metrics ?? '[]') as Record<string, number | null>[]).map((r) => {
    const row: Record<string, number> = {};
    for (const [k, v] of Object.entries(r)) row[k] = v ?? NaN;
    return row as unknown as PhiMetricsRow;
  });
  return {
    epoch: Number(meta.epoch), steps: Number(meta.steps), dims, configHash: meta.config_hash ?? '',
    weights: pick(''), m: pick('adam_m.'), v: pick('adam_v.'), metrics,
  };
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
