/**
 * Pseudo-tokens of reference images: read from OTI tokens parts (or the tokens kind that `invert`
 * writes), or predicted by an exported phi network from the references' raw image features.
 */
import { ID_COLUMNS, TOKEN_COLUMNS, idColumn, pickColumn, vectorColumn } from './arrow-columns.ts';
import { readVectorTables } from './gallery.ts';
import { idKey } from './id-resolver.ts';

export interface TokenReadOptions {
  /** part kind (default `tokens`) */
  kind?: string;
  /** vector column (default: the first of ema_token, token_ema, ema, pseudo_token, token, tokens) */
  column?: string;
  idColumn?: string;
  /**
   * the model the tokens will be used with, asked when they are read (a command may load its model after
   * opening the source): tokens another model made are refused (see readVectorTables)
   */
  modelHash?: () => string | undefined;
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
  for (const { table, where } of readVectorTables(path, opts.kind ?? 'tokens', opts.modelHash?.())) {
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

/** A phi network (stages/phi's PhiPredictor): raw image features (B×d) in, pseudo-tokens (B×D) out. */
export interface PhiRunner { predict(features: Float32Array[]): Promise<Float32Array[]> }
