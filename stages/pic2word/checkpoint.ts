/**
 * Pic2Word training checkpoints: f_M's weights, AdamW moments and step, the epoch reached, the metrics
 * so far and a hash of what shapes training, in one safetensors file written atomically (tmp + rename).
 * An epoch's random draws come from a generator seeded by (seed, epoch), so the epoch number is the
 * whole generator state and resuming after epoch e replays epoch e + 1 as an unbroken run would.
 * The last two checkpoints are kept.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../clip/safetensors.ts';
import type { Pic2WordMetricsRow } from '../../schemas/pic2word-metrics.ts';
import { type Im2TextDims, type Im2TextWeights, dimsFromShapes, paramNames, paramShape } from './im2text.ts';

export const CHECKPOINT_FORMAT = 'starword-pic2word-checkpoint';
const KEEP = 2;

export interface Pic2WordCheckpoint {
  epoch: number;
  /** AdamW steps taken */
  steps: number;
  dims: Im2TextDims;
  weights: Im2TextWeights;
  m: Im2TextWeights;
  v: Im2TextWeights;
  /** hash of the options, model and data a resumed run must share */
  configHash: string;
  metrics: Pic2WordMetricsRow[];
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

export async function writeCheckpoint(outDir: string, c: Pic2WordCheckpoint): Promise<string> {
  const dir = checkpointDir(outDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName(c.epoch));
  const tensors = paramNames(c.dims).flatMap((n) => [
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
export async function readLatestCheckpoint(outDir: string): Promise<Pic2WordCheckpoint | null> {
  const dir = checkpointDir(outDir);
  const epochs = listCheckpoints(dir);
  if (!epochs.length) return null;
  const path = join(dir, fileName(epochs[epochs.length - 1]));
  const store = await readSafetensors(path);
  const meta = (await readSafetensorsHeader(path)).metadata ?? {};
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: not a starword Pic2Word checkpoint`);
  const dims = dimsFromShapes((n) => (store.has(n) ? store.shape(n) : undefined));
  const pick = (prefix: string) => {
    const w: Im2TextWeights = {};
    for (const n of paramNames(dims)) w[n] = store.get(`${prefix}${n}`).slice();
    return w;
  };
  const metrics = (JSON.parse(meta.metrics ?? '[]') as Record<string, number | null>[]).map((r) => {
    const row: Record<string, number> = {};
    for (const [k, v] of Object.entries(r)) row[k] = v ?? NaN;
    return row as unknown as Pic2WordMetricsRow;
  });
  return {
    epoch: Number(meta.epoch), steps: Number(meta.steps), dims, configHash: meta.config_hash ?? '',
    weights: pick(''), m: pick('adam_m.'), v: pick('adam_v.'), metrics,
  };
}
