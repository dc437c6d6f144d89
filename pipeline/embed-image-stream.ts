/**
 * `starword embed-images --model DIR [--preprocess targetpad|plain]`: JSON lines on stdin, one out per
 * line in, in order:
 *   {"pixels": [3][H][W]} (already normalised)  → {"features": [floats]}
 *   {"path": file} (decoded and preprocessed)    → {"features": [floats]}
 *   a file that cannot be read                   → {"path": file, "error": reason}, and the run goes on
 *   a line with neither, or pixels of the wrong shape → {"error": reason}
 * Lines are batched as they arrive (whatever is waiting, up to --batch-size), so a caller that writes one
 * line and waits for its answer is served at once.
 */
import { availableParallelism } from 'node:os';
import type { ImageEncoder } from '../clip/towers/encoder-types.ts';
import { mapLimit } from '../stages/embed/map-limit.ts';
import type { PreprocessFn } from '../stages/embed/types.ts';
import { errorMessage } from '../util/errors.ts';
import { type JsonLine, jsonLineBatches, writeJsonLine } from './jsonl.ts';
import { type Device } from './options.ts';

type Outcome = { pixels: Float32Array } | { out: Record<string, unknown> };

/** A [3][S][S] nested array of numbers → CHW Float32Array, or a reason why not. */
export function pixelsFromJson(value: unknown, size: number): Float32Array | string {
  const shape = `[3][${size}][${size}]`;
  if (!Array.isArray(value) || value.length !== 3) return `"pixels" must be a ${shape} array`;
  const out = new Float32Array(3 * size * size);
  let k = 0;
  for (const plane of value) {
    if (!Array.isArray(plane) || plane.length !== size) return `"pixels" must be a ${shape} array`;
    for (const row of plane) {
      if (!Array.isArray(row) || row.length !== size) return `"pixels" must be a ${shape} array`;
      for (const v of row) {
        if (typeof v !== 'number' || !Number.isFinite(v)) return '"pixels" must hold finite numbers';
        out[k++] = v;
      }
    }
  }
  return out;
}

async function prepare(input: JsonLine, size: number, preprocess: PreprocessFn): Promise<Outcome> {
  if ('error' in input) return { out: { error: input.error } };
  const line = input.value;
  if (line.pixels !== undefined) {
    const px = pixelsFromJson(line.pixels, size);
    return typeof px === 'string' ? { out: { error: px } } : { pixels: px };
  }
  if (typeof line.path === 'string') {
    try {
      return { pixels: await preprocess(line.path) };
    } catch (err) {
      return { out: { path: line.path, error: errorMessage(err) } };
    }
  }
  return { out: { error: 'expected {"pixels": [3][H][W]} or {"path": file}' } };
}

export interface EmbedStreamOptions {
  encoder: ImageEncoder;
  preprocess: PreprocessFn;
  batchSize: number;
  concurrency?: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

/** The stdin → stdout loop, apart from model loading (tests drive it with a stand-in encoder). */
export async function embedImageStream(opts: EmbedStreamOptions): Promise<void> {
  const concurrency = opts.concurrency ?? availableParallelism();
  for await (const lines of jsonLineBatches(opts.input ?? process.stdin, opts.batchSize)) {
    const outcomes = await mapLimit(lines, concurrency, (line) => prepare(line, opts.encoder.imageSize, opts.preprocess));
    const ok = outcomes.flatMap((o) => ('pixels' in o ? [o.pixels] : []));
    const feats = ok.length > 0 ? await opts.encoder.encodePixels(ok) : [];
    let next = 0;
    for (const o of outcomes) {
      await writeJsonLine('pixels' in o ? { features: Array.from(feats[next++]) } : o.out, opts.output ?? process.stdout);
    }
  }
}

export interface Options { model: string; preprocess: string; batchSize: number; threads?: number; device: Device; cacheDir?: string }
