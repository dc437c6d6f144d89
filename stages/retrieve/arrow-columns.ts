/**
 * Reading id and vector columns out of Arrow record batches without per-row copies. The part kinds of
 * other stages are declared elsewhere; here a column is found by name from a short list of candidates so
 * the gallery and token readers follow those schemas without importing them.
 */
import { type RecordBatch, type Table, Field, FixedSizeList, Float32, Table as ArrowTable, Utf8, makeData, makeVector, vectorFromArray } from 'apache-arrow';
import { UserError } from '../../util/errors.ts';

export const ID_COLUMNS = ['id', 'image_id', 'name'];
export const FEATURE_COLUMNS = ['features', 'image_features', 'feature', 'embedding'];
/** SEARLE retrieves with the EMA OTI token; the raw token is the fallback. */
export const TOKEN_COLUMNS = ['ema_token', 'token_ema', 'ema', 'pseudo_token', 'token', 'tokens'];

/** The first of `candidates` present in the schema (or `wanted` exactly when given), else a UserError. */
export function pickColumn(table: Table | RecordBatch, candidates: string[], wanted: string | undefined, where: string): string {
  const names = table.schema.fields.map((f) => f.name);
  if (wanted !== undefined) {
    if (!names.includes(wanted)) throw new UserError(`${where}: no column '${wanted}' (columns: ${names.join(', ')})`);
    return wanted;
  }
  const hit = candidates.find((c) => names.includes(c));
  if (!hit) throw new UserError(`${where}: none of the columns ${candidates.join('/')} (columns: ${names.join(', ')})`);
  return hit;
}

/** The ids of a batch as strings (numbers and bigints are stringified, so COCO ids work either way). */
export function idColumn(batch: RecordBatch, name: string): string[] {
  const vec = batch.getChild(name);
  if (!vec) throw new UserError(`column '${name}' missing`);
  const out = new Array<string>(batch.numRows);
  for (let i = 0; i < batch.numRows; i++) out[i] = String(vec.get(i));
  return out;
}

/**
 * A vector column as one packed row-major Float32Array (a view when the column is a float32
 * FixedSizeList, a copy for a float32 List of equal lengths).
 */
export function vectorColumn(batch: RecordBatch, name: string, where: string): { values: Float32Array; dim: number } {
  const vec = batch.getChild(name);
  if (!vec) throw new UserError(`${where}: column '${name}' missing`);
  const rows = batch.numRows;
  const data = vec.data[0];
  if (data.type instanceof FixedSizeList && data.children[0]?.values instanceof Float32Array) {
    const dim = data.type.listSize;
    const child = data.children[0];
    const values = child.values as Float32Array;
    const start = (child.offset + data.offset * dim);
    return { values: values.subarray(start, start + rows * dim), dim };
  }
  // Generic path (List<float>, other float widths): row by row.
  let dim = -1;
  let out = new Float32Array(0);
  for (let i = 0; i < rows; i++) {
    const row = vec.get(i) as { length: number; toArray?: () => ArrayLike<number> } | null;
    if (!row) continue; // a null row reads as zeros; callers that care check validity
    const arr = row.toArray ? row.toArray() : (row as unknown as ArrayLike<number>);
    if (dim < 0) { dim = arr.length; out = new Float32Array(rows * dim); }
    // (rows before the first non-null one stay zero)
    if (arr.length !== dim) throw new UserError(`${where}: column '${name}' has rows of lengths ${dim} and ${arr.length}`);
    for (let j = 0; j < dim; j++) out[i * dim + j] = Number(arr[j]);
  }
  return { values: out, dim: Math.max(dim, 0) };
}

/** A table of `id` (utf8) and a float32 FixedSizeList vector column: what the index and the tests write. */
export function vectorTable(ids: string[], values: Float32Array, dim: number, column = 'features'): ArrowTable {
  if (values.length !== ids.length * dim) throw new Error(`vectorTable: ${values.length} values for ${ids.length}×${dim}`);
  const child = makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values });
  const list = makeData({ type: new FixedSizeList(dim, new Field('item', new Float32(), false)), length: ids.length, nullCount: 0, child });
  return new ArrowTable({ id: vectorFromArray(ids, new Utf8()), [column]: makeVector(list) });
}
