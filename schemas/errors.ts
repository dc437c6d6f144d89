/**
 * The `errors` part kind: every image a stage could not process, and why; written beside the stage's
 * main part with the same index, so a part's rows + its errors' rows = its input rows.
 *   image_id  utf8
 *   path      utf8
 *   stage     utf8   'embed', 'oti', ...
 *   code      utf8   short category for histograms ('empty', 'not-an-image', 'non-finite', 'error', ...)
 *   reason    utf8   the one-line message
 */
import { Field, Schema, type Table, Utf8 } from 'apache-arrow';
import { checkKind, kindMetadata, readStrings, tableOf, utf8Data } from './columns.ts';

export const KIND = 'errors';

export interface ErrorRow {
  imageId: string;
  path: string;
  stage: string;
  code: string;
  reason: string;
}

export function schema(metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('image_id', new Utf8(), false),
    new Field('path', new Utf8(), false),
    new Field('stage', new Utf8(), false),
    new Field('code', new Utf8(), false),
    new Field('reason', new Utf8(), false),
  ], kindMetadata(KIND, metadata));
}

export function toTable(rows: readonly ErrorRow[], metadata: Record<string, string> = {}): Table {
  return tableOf(schema(metadata), [
    utf8Data(rows.map((r) => r.imageId)),
    utf8Data(rows.map((r) => r.path)),
    utf8Data(rows.map((r) => r.stage)),
    utf8Data(rows.map((r) => r.code)),
    utf8Data(rows.map((r) => r.reason)),
  ], rows.length);
}

export function fromTable(table: Table): ErrorRow[] {
  checkKind(table, KIND);
  const cols = ['image_id', 'path', 'stage', 'code', 'reason'].map((c) => readStrings(table, c));
  return cols[0].map((_, i) => ({
    imageId: cols[0][i] ?? '', path: cols[1][i] ?? '', stage: cols[2][i] ?? '', code: cols[3][i] ?? '', reason: cols[4][i] ?? '',
  }));
}
