/**
 * phi training checkpoints: weights, AdamW moments and step, the epoch reached, the metrics so far and a
 * hash of the options that shape training, in one safetensors file written atomically (tmp + rename).
 * The random draws of an epoch come from a generator seeded by (seed, epoch), so the epoch number is
 * the whole generator state: resuming after epoch e replays epoch e + 1 exactly as an unbroken run.
 * The last two checkpoints are kept.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../clip/safetensors.ts';
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
