/**
 * The vocabulary text-feature cache: one row per vocabulary name, its template-ensemble text feature
 * (L2-normalised).
 *   name      utf8
 *   features  FixedSizeList<float32>[D]
 * Schema metadata: kind, schema version and the cache key with its three parts (model, vocabulary and
 * templates hashes), so a file can be checked against what it claims to hold.
 */
import { Field, Float32, Schema, type Table, Utf8, makeData } from 'apache-arrow';
import { META_KIND, META_VERSION, SCHEMA_VERSION, fixedSizeListMatrix, kindMetadata, tableOf, utf8Data, vectorType } from './columns.ts';

export const KIND = 'vocab-features';

export interface VocabFeaturesKey {
  modelHash: string;
  vocabHash: string;
  templatesHash: string;
}

export interface VocabFeatures {
  names: string[];
  dim: number;
  /** names.length × dim, row-major, each row L2-normalised */
  matrix: Float32Array;
}

/** The cache key as one string: also the cache file's name stem. */
export function vocabFeaturesKeyString(key: VocabFeaturesKey): string {
  const short = (h: string): string => h.slice(0, 16);
  return `${short(key.modelHash)}-${short(key.vocabHash)}-${short(key.templatesHash)}`;
}

export function toTable(features: VocabFeatures, key: VocabFeaturesKey): Table {
  const { names, dim, matrix } = features;
  if (matrix.length !== names.length * dim) {
    throw new Error(`vocab-features: matrix holds ${matrix.length} floats, expected ${names.length}×${dim}`);
  }
  const type = vectorType(dim);
  const schema = new Schema([
    new Field('name', new Utf8(), false),
    new Field('features', type, false),
  ], kindMetadata(KIND, {
    'starword.cache_key': vocabFeaturesKeyString(key),
    'starword.model_hash': key.modelHash,
    'starword.vocab_hash': key.vocabHash,
    'starword.templates_hash': key.templatesHash,
  }));
  // the matrix is already row-major: wrap it as the list's child without copying row by row
  const featuresData = makeData({ type, length: names.length, nullCount: 0,
    child: makeData({ type: new Float32(), length: matrix.length, nullCount: 0, data: matrix }) });
  return tableOf(schema, [utf8Data(names), featuresData], names.length);
}

/**
 * Reads a vocabulary-features table and checks it against `key`: returns null when it was made for
 * another key or schema version (the caller recomputes), throws when it is not such a table at all.
 */
export function fromTable(table: Table, key: VocabFeaturesKey): VocabFeatures | null {
  const meta = table.schema.metadata;
  if (meta.get(META_KIND) !== KIND) throw new Error(`not a '${KIND}' table`);
  if (meta.get(META_VERSION) !== String(SCHEMA_VERSION)) return null;
  if (meta.get('starword.model_hash') !== key.modelHash || meta.get('starword.vocab_hash') !== key.vocabHash
    || meta.get('starword.templates_hash') !== key.templatesHash) return null;
  const nameCol = table.getChild('name');
  const featCol = table.getChild('features');
  if (!nameCol || !featCol) throw new Error('vocabulary features table lacks name or features');
  const names: string[] = new Array(table.numRows);
  for (let i = 0; i < names.length; i++) names[i] = String(nameCol.get(i));
  const { dim, matrix } = fixedSizeListMatrix(featCol);
  return { names, dim, matrix };
}

