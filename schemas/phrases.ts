/**
 * The `phrases` part kind: one row per kept phrase.
 *   concept      utf8
 *   phrase       utf8   the cleaned original (it contains the concept)
 *   swapped      utf8   the concept replaced by " $ "
 *   backend      utf8   completions | chat | templates | import
 *   model        utf8   the LLM (or the offline source) that wrote it
 *   params_hash  utf8   hash of backend, model, prompt and sampling parameters (the cache's config key)
 *   target       FixedSizeList<float32>[D] nullable   CLIP's text feature of `phrase`, unnormalised: the
 *                constant that OTI's and phi's L_gpt compare against. Absent when made without a model.
 * Schema metadata: kind, version and, with targets, starword.target_dim.
 */
import { Field, type FixedSizeList, Schema, type Table, Utf8 } from 'apache-arrow';
import { checkKind, kindMetadata, readStrings, readVectors, tableOf, utf8Data, vectorData, vectorType } from './columns.ts';

export const KIND = 'phrases';

export interface PhraseRow {
  concept: string;
  phrase: string;
  swapped: string;
  backend: string;
  model: string;
  paramsHash: string;
}

const TEXT_COLUMNS = ['concept', 'phrase', 'swapped', 'backend', 'model', 'params_hash'] as const;
const ROW_KEYS = ['concept', 'phrase', 'swapped', 'backend', 'model', 'paramsHash'] as const;

/** `targetDim` null: no target column. */
export function schema(targetDim: number | null, metadata: Record<string, string> = {}): Schema {
  const fields: Field[] = TEXT_COLUMNS.map((name) => new Field(name, new Utf8(), false));
  if (targetDim !== null) fields.push(new Field('target', vectorType(targetDim), true));
  const extra = targetDim !== null ? { ...metadata, 'starword.target_dim': String(targetDim) } : metadata;
  return new Schema(fields, kindMetadata(KIND, extra));
}

/** A phrases table; `targets`, when given, is one vector (or null) per row. */
export function toTable(rows: readonly PhraseRow[], targets?: { dim: number; rows: readonly (Float32Array | null)[] },
  metadata: Record<string, string> = {}): Table {
  if (targets && targets.rows.length !== rows.length) {
    throw new Error(`phrases: ${targets.rows.length} targets for ${rows.length} rows`);
  }
  const columns = ROW_KEYS.map((key) => utf8Data(rows.map((r) => r[key])));
  const s = schema(targets ? targets.dim : null, metadata);
  return tableOf(s, targets ? [...columns, vectorData(targets.rows, targets.dim, 'target')] : columns, rows.length);
}

export interface PhrasesPart {
  rows: PhraseRow[];
  /** One vector (or null) per row, or null when the part has no target column. */
  targets: { dim: number; rows: (Float32Array | null)[] } | null;
}

export function fromTable(table: Table): PhrasesPart {
  checkKind(table, KIND);
  const cols = TEXT_COLUMNS.map((name) => readStrings(table, name));
  const rows: PhraseRow[] = cols[0].map((_, i) => ({
    concept: cols[0][i] ?? '', phrase: cols[1][i] ?? '', swapped: cols[2][i] ?? '',
    backend: cols[3][i] ?? '', model: cols[4][i] ?? '', paramsHash: cols[5][i] ?? '',
  }));
  const hasTarget = table.schema.fields.some((f) => f.name === 'target');
  return { rows, targets: hasTarget ? readVectors(table, 'target') : null };
}

/** The target dimension recorded in a phrases schema, or null. */
export function targetDim(table: Table): number | null {
  const f = table.schema.fields.find((x) => x.name === 'target');
  return f ? (f.type as FixedSizeList).listSize : null;
}
