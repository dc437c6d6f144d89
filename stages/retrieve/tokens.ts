/**
 * Pseudo-tokens of reference images: read from OTI tokens parts (or the tokens kind that `invert`
 * writes), or predicted by an exported phi network from the references' raw image features.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../../util/errors.ts';
import { ID_COLUMNS, TOKEN_COLUMNS, idColumn, pickColumn, vectorColumn } from './arrow-columns.ts';
import { readVectorTables } from './gallery.ts';
import { idKey } from './id-resolver.ts';

export interface TokenReadOptions {
  /** part kind (default `tokens`) */
  kind?: string;
  /** vector column (default: the first of ema_token, token_ema, ema, pseudo_token, token, tokens) */
  column?: string;
  idColumn?: string;
}

/**
 * Tokens of the `wanted` ids from a tokens folder or .arrow file, keyed by the wanted id. A row matches
 * a wanted id exactly or by idKey (see id-resolver.ts). Failed OTI rows (status not 'ok', a null
 * vector, a non-finite value) are skipped. Only the wanted rows are kept in memory.
 */
export function readTokens(path: string, wanted: Iterable<string>, opts: TokenReadOptions = {}): Map<string, Float32Array> {
  const exact = new Set(wanted);
  const byKey = new Map<string, string[]>();
  for (const w of exact) {
    const k = idKey(w);
    const list = byKey.get(k);
    if (list) list.push(w); else byKey.set(k, [w]);
  }
  const out = new Map<string, Float32Array>();
  const fromExact = new Set<string>();
  for (const { table, where } of readVectorTables(path, opts.kind ?? 'tokens')) {
    const idName = pickColumn(table, ID_COLUMNS, opts.idColumn, where);
    const col = pickColumn(table, TOKEN_COLUMNS, opts.column, where);
    for (const batch of table.batches) {
      if (batch.numRows === 0) continue;
      const ids = idColumn(batch, idName);
      const { values, dim } = vectorColumn(batch, col, where);
      const vec = batch.getChild(col)!;
      const status = batch.getChild('status');
      for (let i = 0; i < ids.length; i++) {
        // A failed OTI row: status 'failed', a null vector, or non-finite values.
        if (!vec.isValid(i) || (status && status.get(i) !== 'ok')) continue;
        const row = values.subarray(i * dim, (i + 1) * dim);
        if (!row.every(Number.isFinite)) continue;
        if (exact.has(ids[i])) { out.set(ids[i], row.slice()); fromExact.add(ids[i]); continue; }
        for (const w of byKey.get(idKey(ids[i])) ?? []) if (!fromExact.has(w)) out.set(w, row.slice());
      }
    }
  }
  return out;
}

/** A phi network exported as ONNX: raw image features (B×d) in, pseudo-tokens (B×D) out. */
export interface PhiRunner { predict(features: Float32Array[]): Promise<Float32Array[]> }

export async function loadPhiOnnx(file: string): Promise<PhiRunner> {
  if (!existsSync(file)) throw new UserError(`${file}: no such phi file`);
  if (!file.endsWith('.onnx')) throw new UserError(`${file}: --phi expects phi exported as .onnx`);
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try { session = await ort.InferenceSession.create(file); } catch (err) {
    throw new UserError(`${file}: cannot load phi (${(err as Error).message.split('\n')[0]})`);
  }
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  return {
    async predict(features: Float32Array[]): Promise<Float32Array[]> {
      if (features.length === 0) return [];
      const d = features[0].length;
      const out: Float32Array[] = [];
      for (let s = 0; s < features.length; s += 256) {
        const chunk = features.slice(s, s + 256);
        const data = new Float32Array(chunk.length * d);
        chunk.forEach((f, i) => data.set(f, i * d));
        const res = await session.run({ [input]: new ort.Tensor('float32', data, [chunk.length, d]) });
        const y = res[output].data as Float32Array;
        const D = y.length / chunk.length;
        for (let i = 0; i < chunk.length; i++) out.push(y.slice(i * D, (i + 1) * D));
      }
      return out;
    },
  };
}
