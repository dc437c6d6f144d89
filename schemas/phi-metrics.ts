/**
 * The `phi-metrics` kind: one row per epoch of phi training (epoch 0: the held-out split at
 * initialisation, before any step; its train columns are NaN).
 *   epoch         int32
 *   steps         int32     optimizer steps taken so far
 *   train_distil  float32   mean over the epoch's batches, train mode (dropout on)
 *   train_gpt     float32
 *   train_total   float32
 *   val_distil    float32   held-out split, eval mode (no dropout), fixed phrase draws; NaN without a split
 *   val_gpt       float32
 *   val_total     float32
 *   val_cosine    float32   mean cosine between phi(x) and the OTI EMA token on held-out images
 *   seconds       float32   wall time of the epoch (training and evaluation)
 */
import { Field, Float32, Int32, Schema, type Table } from 'apache-arrow';
import { checkKind, float32Data, int32Data, kindMetadata, readNumbers, tableOf } from './columns.ts';

export const KIND = 'phi-metrics';

export interface PhiMetricsRow {
  epoch: number;
  steps: number;
  trainDistil: number; trainGpt: number; trainTotal: number;
  valDistil: number; valGpt: number; valTotal: number; valCosine: number;
  seconds: number;
}

const FLOAT_COLUMNS = [
  ['train_distil', 'trainDistil'], ['train_gpt', 'trainGpt'], ['train_total', 'trainTotal'],
  ['val_distil', 'valDistil'], ['val_gpt', 'valGpt'], ['val_total', 'valTotal'], ['val_cosine', 'valCosine'],
  ['seconds', 'seconds'],
] as const;

export function schema(metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('epoch', new Int32(), false),
    new Field('steps', new Int32(), false),
    ...FLOAT_COLUMNS.map(([c]) => new Field(c, new Float32(), false)),
  ], kindMetadata(KIND, metadata));
}

export function toTable(rows: readonly PhiMetricsRow[], metadata: Record<string, string> = {}): Table {
  return tableOf(schema(metadata), [
    int32Data(rows.map((r) => r.epoch)),
    int32Data(rows.map((r) => r.steps)),
    ...FLOAT_COLUMNS.map(([, k]) => float32Data(rows.map((r) => r[k]))),
  ], rows.length);
}

export function fromTable(table: Table): PhiMetricsRow[] {
  checkKind(table, KIND);
  const epoch = readNumbers(table, 'epoch'), steps = readNumbers(table, 'steps');
  const cols = FLOAT_COLUMNS.map(([c]) => readNumbers(table, c));
  return epoch.map((e, i) => {
    const row = { epoch: e ?? 0, steps: steps[i] ?? 0 } as PhiMetricsRow;
    FLOAT_COLUMNS.forEach(([, k], j) => { row[k] = cols[j][i] ?? NaN; });
    return row;
  });
}
