/**
 * The `images` part kind: the ingest plan, one row per image of this shard, in id order.
 *   image_id  utf8            stable id (relative path with '/' separators, or the manifest's id)
 *   path      utf8            absolute path of the file
 *   shard     int32 nullable  the shard this image belongs to
 * Import as a namespace: `import * as images from './images.ts'`.
 */
import { Field, Int32, Schema, type Table, Utf8 } from 'apache-arrow';
import { checkKind, int32Data, kindMetadata, readNumbers, readStrings, tableOf, utf8Data } from './columns.ts';

export const KIND = 'images';

export interface ImageRow {
  imageId: string;
  path: string;
  shard?: number | null;
}

export function schema(metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('image_id', new Utf8(), false),
    new Field('path', new Utf8(), false),
    new Field('shard', new Int32(), true),
  ], kindMetadata(KIND, metadata));
}

export function toTable(rows: readonly ImageRow[], metadata: Record<string, string> = {}): Table {
  return tableOf(schema(metadata), [
    utf8Data(rows.map((r) => r.imageId)),
    utf8Data(rows.map((r) => r.path)),
    int32Data(rows.map((r) => r.shard)),
  ], rows.length);
}

export function fromTable(table: Table): ImageRow[] {
  checkKind(table, KIND);
  const ids = readStrings(table, 'image_id');
  const paths = readStrings(table, 'path');
  const shards = readNumbers(table, 'shard');
  return ids.map((id, i) => ({ imageId: id ?? '', path: paths[i] ?? '', shard: shards[i] }));
}
