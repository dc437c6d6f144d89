/**
 * Test helpers for model folders: a copy of the golden tiny CLIP, and a raw
 * safetensors reader/writer written independently of clip/weights/safetensors.ts (so the tests do not check
 * the code with itself, and can write dtypes starword refuses).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './test-utils.ts';

export const GOLDEN_MODEL = fileURLToPath(new URL('../fixtures/tiny-clip/model', import.meta.url));

/** A copy of the golden tiny model (config.json + model.safetensors) in a temp folder. */
export function copyGolden(teardown: (fn: () => void) => void): string {
  const dir = tempDir('golden-model', teardown);
  cpSync(GOLDEN_MODEL, dir, { recursive: true });
  return dir;
}

export interface RawTensor { name: string; dtype: string; shape: number[]; bytes: Uint8Array }

/** Parses a safetensors file with nothing but DataView and JSON.parse. */
export function readRawSafetensors(file: string): RawTensor[] {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return Object.entries(header).filter(([k]) => k !== '__metadata__').map(([name, e]) => ({
    name, dtype: e.dtype, shape: e.shape,
    bytes: new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])),
  }));
}

/** Writes tensors as given (any dtype string, bytes verbatim). */
export function writeRawSafetensors(file: string, tensors: RawTensor[]): void {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.bytes))]));
}

/** float32 values of a raw F32 tensor. */
export function rawF32(t: RawTensor): Float32Array {
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  return Float32Array.from({ length: t.bytes.length / 4 }, (_, i) => dv.getFloat32(i * 4, true));
}

/** Edits the config.json of a model folder. */
export function editConfig(dir: string, edit: (cfg: Record<string, any>) => void): void {
  const path = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
  edit(cfg);
  writeFileSync(path, JSON.stringify(cfg, null, 1));
}
