/**
 * Column builders and readers shared by the part kinds of schemas/: Arrow Data built in one pass from
 * plain arrays (no per-value builders), read back into plain arrays, plus the kind/version metadata
 * every part carries so a reader can refuse a table that is not what it expects.
 */
import {
  type Data, DataType, Field, FixedSizeList, Float32, Int32, RecordBatch, Schema, Struct, Table, Uint32, Utf8,
  type Vector, Precision, makeData,
} from 'apache-arrow';

/** Version of the part layouts written by this starword; bumped when a kind's columns change. */
export const SCHEMA_VERSION = 1;

export const META_KIND = 'starword.kind';
export const META_VERSION = 'starword.schema_version';

/** Schema metadata: extra entries, then the kind and version (which always win). */
export function kindMetadata(kind: string, extra: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries({ ...extra, [META_KIND]: kind, [META_VERSION]: String(SCHEMA_VERSION) }));
}

/** Throws unless `table` is a part of `kind` at a version this code reads. */
export function checkKind(table: Table, kind: string): void {
  const got = table.schema.metadata.get(META_KIND);
  if (got !== kind) throw new Error(`expected a '${kind}' part, got ${got === undefined ? 'a table without a starword kind' : `'${got}'`}`);
  const version = Number(table.schema.metadata.get(META_VERSION));
  if (!Number.isInteger(version) || version > SCHEMA_VERSION) {
    throw new Error(`'${kind}' part has schema version ${table.schema.metadata.get(META_VERSION)}; this starword reads up to ${SCHEMA_VERSION}`);
  }
}

/** The 'item' child field pyarrow and Hugging Face datasets use for list values. */
export function vectorType(dim: number): FixedSizeList<Float32> {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`vector dimension must be a positive integer, got ${dim}`);
  return new FixedSizeList(dim, new Field('item', new Float32(), false));
}

/** LSB-first validity bitmap, or undefined when nothing is null. */
function validity(isNull: (i: number) => boolean, n: number): { nullCount: number; nullBitmap?: Uint8Array } {
  let nullCount = 0;
  const bitmap = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nullCount++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  }
  return nullCount === 0 ? { nullCount } : { nullCount, nullBitmap: bitmap };
}

const utf8 = new TextEncoder();

export function utf8Data(values: readonly (string | null | undefined)[]): Data<Utf8> {
  const encoded = values.map((v) => (v == null ? new Uint8Array(0) : utf8.encode(v)));
  const offsets = new Int32Array(values.length + 1);
  for (let i = 0; i < encoded.length; i++) offsets[i + 1] = offsets[i] + encoded[i].length;
  const bytes = new Uint8Array(offsets[values.length]);
  for (let i = 0; i < encoded.length; i++) bytes.set(encoded[i], offsets[i]);
  return makeData({ type: new Utf8(), length: values.length, ...validity((i) => values[i] == null, values.length),
    valueOffsets: offsets, data: bytes });
}

export function float32Data(values: readonly number[]): Data<Float32> {
  return makeData({ type: new Float32(), length: values.length, nullCount: 0, data: Float32Array.from(values) });
}

export function int32Data(values: readonly (number | null | undefined)[]): Data<Int32> {
  const data = Int32Array.from(values, (v) => v ?? 0);
  return makeData({ type: new Int32(), length: values.length, ...validity((i) => values[i] == null, values.length), data });
}

export function uint32Data(values: readonly number[]): Data<Uint32> {
  return makeData({ type: new Uint32(), length: values.length, nullCount: 0, data: Uint32Array.from(values) });
}

/** FixedSizeList<float32>[dim] from one vector (or null) per row; every vector must have length `dim`. */
export function vectorData(rows: readonly (Float32Array | null | undefined)[], dim: number, column: string): Data<FixedSizeList<Float32>> {
  const type = vectorType(dim);
  const flat = new Float32Array(rows.length * dim);
  rows.forEach((v, i) => {
    if (v == null) return;
    if (v.length !== dim) throw new Error(`${column}: row ${i} has ${v.length} values, expected ${dim}`);
    flat.set(v, i * dim);
  });
  const child = makeData({ type: type.children[0].type, length: flat.length, nullCount: 0, data: flat });
  return makeData({ type, length: rows.length, ...validity((i) => rows[i] == null, rows.length), child });
}

/** A one-batch table from column data in schema order. */
export function tableOf(schema: Schema, columns: Data[], length: number): Table {
  const struct = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children: columns });
  return new Table(schema, new RecordBatch(schema, struct));
}

function column(table: Table, name: string): Vector {
  const col = table.getChild(name);
  if (!col) throw new Error(`part lacks column '${name}'`);
  return col;
}

export function readStrings(table: Table, name: string): (string | null)[] {
  const col = column(table, name);
  const out: (string | null)[] = new Array(table.numRows);
  for (let i = 0; i < out.length; i++) out[i] = col.get(i) as string | null;
  return out;
}

export function readNumbers(table: Table, name: string): (number | null)[] {
  const col = column(table, name);
  const out: (number | null)[] = new Array(table.numRows);
  for (let i = 0; i < out.length; i++) {
    const v = col.get(i) as number | bigint | null;
    out[i] = v === null ? null : Number(v);
  }
  return out;
}

/**
 * The width D of a FixedSizeList<float32>[D] column, or an error naming it. Types are tested by id, not
 * instanceof: a table read from IPC has a generic `Float` of single precision where the writer had `Float32`.
 */
function floatVectorWidth(col: Vector, name: string): number {
  const type = col.type as DataType;
  const item = DataType.isFixedSizeList(type) ? type.children[0].type : null;
  if (!DataType.isFixedSizeList(type) || !item || !DataType.isFloat(item) || item.precision !== Precision.SINGLE) {
    throw new Error(`column '${name}' is ${String(type)}, expected FixedSizeList<float32>`);
  }
  return type.listSize;
}

/**
 * A FixedSizeList<float32>[D] column without nulls as one row-major Float32Array (rows × D), across
 * record batches. arrow-js slices child buffers to the data's first row, so row i starts at i·D.
 */
export function fixedSizeListMatrix(col: Vector, name = 'features'): { dim: number; matrix: Float32Array } {
  const dim = floatVectorWidth(col, name);
  const matrix = new Float32Array(col.length * dim);
  let row = 0;
  for (const data of col.data) {
    if (data.nullCount > 0) throw new Error(`column '${name}' holds nulls`);
    const values = data.children[0].values as Float32Array;
    matrix.set(values.subarray(0, data.length * dim), row * dim);
    row += data.length;
  }
  return { dim, matrix };
}

/** A FixedSizeList<float32> column as one copied vector (or null) per row, across record batches. */
export function readVectors(table: Table, name: string): { dim: number; rows: (Float32Array | null)[] } {
  const col = column(table, name);
  const dim = floatVectorWidth(col, name);
  const rows: (Float32Array | null)[] = [];
  for (const data of col.data) {
    const values = data.children[0].values as Float32Array;
    for (let i = 0; i < data.length; i++) {
      rows.push(data.getValid(i) ? values.slice(i * dim, (i + 1) * dim) : null);
    }
  }
  return { dim, rows };
}
