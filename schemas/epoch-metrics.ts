/**
 * One row per training epoch (phi, Pic2Word): int32 `epoch` and `steps`, then float32 columns named by
 * each kind. The kinds declare their columns as [Arrow column, row key] pairs; this file builds, writes
 * and reads them.
 */
import { Field, Float32, Int32, Schema, type Table } from 'apache-arrow';
import { checkKind, float32Data, int32Data, kindMetadata, readNumbers, tableOf } from './columns.ts';

export type FloatColumns<K extends string> = readonly (readonly [string, K])[];

export interface EpochRow { epoch: number; steps: number }

export function epochMetricsSchema(kind: string, floats: FloatColumns<string>, metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('epoch', new Int32(), false),
    new Field('steps', new Int32(), false),
    ...floats.map(([c]) => new Field(c, new Float32(), false)),
  ], kindMetadata(kind, metadata));
}

/** A missing value (an optional key left out of a row) is written as NaN. */
export function epochMetricsToTable<K extends string, R extends EpochRow & Partial<Record<K, number>>>(kind: string, floats: FloatColumns<K>,
  rows: readonly R[], metadata: Record<string, string> = {}): Table {
  return tableOf(epochMetricsSchema(kind, floats, metadata), [
    int32Data(rows.map((r) => r.epoch)),
    int32Data(rows.map((r) => r.steps)),
    ...floats.map(([, k]) => float32Data(rows.map((r) => r[k] ?? NaN))),
  ], rows.length);
}

/** `optional`: columns a file may lack (written before they existed) read back as NaN; else a missing column is refused. */
export function epochMetricsFromTable<K extends string, R extends EpochRow>(kind: string, floats: FloatColumns<K>, table: Table,
  optional = false): R[] {
  checkKind(table, kind);
  const epoch = readNumbers(table, 'epoch'), steps = readNumbers(table, 'steps');
  const names = new Set(table.schema.fields.map((f) => f.name));
  const cols = floats.map(([c]) => (optional && !names.has(c) ? [] : readNumbers(table, c)));
  return epoch.map((e, i) => {
    const row: Record<string, number> = { epoch: e ?? 0, steps: steps[i] ?? 0 };
    floats.forEach(([, k], j) => { row[k] = cols[j][i] ?? NaN; });
    return row as unknown as R;
  });
}

/** The rows of a mapper trained on one loss (Pic2Word, LinCIR): each kind's file says what its columns mean. */
export interface MapperMetricsRow extends EpochRow {
  lr: number;
  trainLoss: number;
  valLoss: number;
  valCosine: number;
  seconds: number;
}

export const MAPPER_FLOAT_COLUMNS = [
  ['lr', 'lr'], ['train_loss', 'trainLoss'], ['val_loss', 'valLoss'], ['val_cosine', 'valCosine'], ['seconds', 'seconds'],
] as const;

/** The schema, writer and reader of a mapper's metrics kind. */
export function mapperMetricsKind(kind: string) {
  return {
    schema: (metadata: Record<string, string> = {}): Schema => epochMetricsSchema(kind, MAPPER_FLOAT_COLUMNS, metadata),
    toTable: (rows: readonly MapperMetricsRow[], metadata: Record<string, string> = {}): Table => epochMetricsToTable(kind, MAPPER_FLOAT_COLUMNS, rows, metadata),
    fromTable: (table: Table): MapperMetricsRow[] => epochMetricsFromTable(kind, MAPPER_FLOAT_COLUMNS, table),
  };
}
