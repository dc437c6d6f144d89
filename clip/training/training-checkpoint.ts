/**
 * Resumable training checkpoints shared by the networks starword trains (phi, Pic2Word's f_M): the
 * weights, AdamW moments and step, the epoch reached, the metrics so far and a hash of what shapes
 * training, in one safetensors file written atomically (tmp + rename), `<out>/checkpoints/epoch-NNNNN`.
 * An epoch's random draws come from a generator seeded by (seed, epoch), so the epoch number is the
 * whole generator state and resuming after epoch e replays epoch e + 1 as an unbroken run would.
 * The last two checkpoints are kept.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../weights/safetensors.ts';

const KEEP = 2;

/** What a network's checkpoints hold: its parameter names and shapes, and how to read its dims back. */
export interface CheckpointLayout<D, N extends string> {
  /** recorded in the file's metadata; a file of another format is refused */
  format: string;
  /** for messages: "phi", "Pic2Word" */
  label: string;
  names(dims: D): readonly N[];
  shape(dims: D, name: N): number[];
  dimsFromShapes(shapeOf: (name: N) => number[] | undefined): D;
}

export interface TrainingCheckpoint<D, W, M> {
  /** epochs completed */
  epoch: number;
  /** batches done of epoch `epoch + 1` (a step budget that stopped mid-epoch); 0 or absent otherwise */
  batch?: number;
  /** AdamW steps taken */
  steps: number;
  dims: D;
  weights: W;
  m: W;
  v: W;
  /** hash of the options (and data) a resumed run must share */
  configHash: string;
  metrics: M[];
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

export async function writeTrainingCheckpoint<D, N extends string, W extends Record<N, Float32Array>, M>(
  outDir: string, layout: CheckpointLayout<D, N>, c: TrainingCheckpoint<D, W, M>): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName(c.epoch));
  const tensors = layout.names(c.dims).flatMap((n) => [
    { name: n, shape: layout.shape(c.dims, n), data: c.weights[n] },
    { name: `adam_m.${n}`, shape: layout.shape(c.dims, n), data: c.m[n] },
    { name: `adam_v.${n}`, shape: layout.shape(c.dims, n), data: c.v[n] },
  ]);
  await writeSafetensors(path, tensors, {
    format: layout.format, epoch: String(c.epoch), batch: String(c.batch ?? 0), steps: String(c.steps), config_hash: c.configHash,
    metrics: JSON.stringify(c.metrics), // NaN becomes null here and NaN again on reading
  });
  for (const e of listCheckpoints(dir).slice(0, -KEEP)) rmSync(join(dir, fileName(e)), { force: true });
  return path;
}

/** The newest checkpoint under `outDir`, or null. */
export async function readLatestTrainingCheckpoint<D, N extends string, W extends Record<N, Float32Array>, M>(
  outDir: string, layout: CheckpointLayout<D, N>): Promise<TrainingCheckpoint<D, W, M> | null> {
  const dir = checkpointDir(outDir);
  const epochs = listCheckpoints(dir);
  if (!epochs.length) return null;
  const path = join(dir, fileName(epochs[epochs.length - 1]));
  const store = await readSafetensors(path);
  const meta = (await readSafetensorsHeader(path)).metadata ?? {};
  if (meta.format !== layout.format) throw new Error(`${path}: not a starword ${layout.label} checkpoint`);
  const dims = layout.dimsFromShapes((n) => (store.has(n) ? store.shape(n) : undefined));
  const pick = (prefix: string): W => {
    const w = {} as Record<N, Float32Array>;
    for (const n of layout.names(dims)) w[n] = store.get(`${prefix}${n}`).slice();
    return w as W;
  };
  const metrics = (JSON.parse(meta.metrics ?? '[]') as Record<string, number | null>[]).map((r) => {
    const row: Record<string, number> = {};
    for (const [k, v] of Object.entries(r)) row[k] = v ?? NaN;
    return row as unknown as M;
  });
  return {
    epoch: Number(meta.epoch), batch: Number(meta.batch ?? 0), steps: Number(meta.steps), dims, configHash: meta.config_hash ?? '',
    weights: pick(''), m: pick('adam_m.'), v: pick('adam_v.'), metrics,
  };
}
