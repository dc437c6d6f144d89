/**
 * The `features` part kind: CLIP image features (unnormalised, as HF get_image_features gives), one row
 * per image that embedded, in the order of its images part.
 *   image_id  utf8
 *   features  FixedSizeList<float32>[D]
 */
import { Field, Schema, type Table, Utf8 } from 'apache-arrow';
import { checkKind, kindMetadata, readStrings, readVectors, tableOf, utf8Data, vectorData, vectorType } from './columns.ts';

export const KIND = 'features';

export interface FeatureRow {
  imageId: string;
  features: Float32Array;
}

export function schema(dim: number, metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('image_id', new Utf8(), false),
    new Field('features', vectorType(dim), false),
  ], kindMetadata(KIND, metadata));
}

/** `dim` is explicit so that an empty part still declares its width. */
export function toTable(rows: readonly FeatureRow[], dim: number, metadata: Record<string, string> = {}): Table {
  return tableOf(schema(dim, metadata), [
    utf8Data(rows.map((r) => r.imageId)),
    vectorData(rows.map((r) => r.features), dim, 'features'),
  ], rows.length);
}

export function fromTable(table: Table): { dim: number; rows: FeatureRow[] } {
  checkKind(table, KIND);
  const ids = readStrings(table, 'image_id');
  const { dim, rows } = readVectors(table, 'features');
  return { dim, rows: ids.map((id, i) => ({ imageId: id ?? '', features: rows[i] ?? new Float32Array(dim) })) };
}
