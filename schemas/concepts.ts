/**
 * The `concepts` part kind: per image, its top-K vocabulary concepts and their cosine scores, in
 * descending score order (ties: lower vocabulary index first), one row per image of the features part.
 *   image_id  utf8
 *   concepts  List<utf8>
 *   scores    List<float32>   same length as concepts
 * Besides kind and version, the concepts stage records in the schema metadata what the scores were
 * computed from (starword.model_hash, starword.vocab_hash, starword.templates_hash, starword.top_k).
 */
import { type Data, Field, Float32, List, Schema, type Table, Utf8, makeData } from 'apache-arrow';
import { checkKind, kindMetadata, readStrings, tableOf, utf8Data } from './columns.ts';

export const KIND = 'concepts';

export interface ConceptsRow {
  imageId: string;
  /** best first */
  concepts: string[];
  /** same length and order as concepts */
  scores: Float32Array;
}

function listType<T extends Utf8 | Float32>(item: T): List<T> {
  return new List(new Field('item', item, false));
}

export function schema(metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('image_id', new Utf8(), false),
    new Field('concepts', listType(new Utf8()), false),
    new Field('scores', listType(new Float32()), false),
  ], kindMetadata(KIND, metadata));
}

export function toTable(rows: readonly ConceptsRow[], metadata: Record<string, string> = {}): Table {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => {
    if (r.concepts.length !== r.scores.length) {
      throw new Error(`concepts: row '${r.imageId}' has ${r.concepts.length} concepts but ${r.scores.length} scores`);
    }
    offsets[i + 1] = offsets[i] + r.concepts.length;
  });
  const total = offsets[rows.length];
  const flatScores = new Float32Array(total);
  rows.forEach((r, i) => flatScores.set(r.scores, offsets[i]));
  const conceptsData: Data<List<Utf8>> = makeData({ type: listType(new Utf8()), length: rows.length, nullCount: 0,
    valueOffsets: offsets, child: utf8Data(rows.flatMap((r) => r.concepts)) });
  const scoresData: Data<List<Float32>> = makeData({ type: listType(new Float32()), length: rows.length, nullCount: 0,
    valueOffsets: offsets, child: makeData({ type: new Float32(), length: total, nullCount: 0, data: flatScores }) });
  return tableOf(schema(metadata), [utf8Data(rows.map((r) => r.imageId)), conceptsData, scoresData], rows.length);
}

export function fromTable(table: Table): ConceptsRow[] {
  checkKind(table, KIND);
  const ids = readStrings(table, 'image_id');
  const conceptsCol = table.getChild('concepts');
  const scoresCol = table.getChild('scores');
  if (!conceptsCol || !scoresCol) throw new Error(`'${KIND}' part lacks its concepts or scores column`);
  return ids.map((id, i) => ({
    imageId: id ?? '',
    concepts: Array.from(conceptsCol.get(i) as Iterable<string>),
    scores: Float32Array.from(scoresCol.get(i) as Iterable<number>),
  }));
}
