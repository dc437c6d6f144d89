/**
 * The `tokens` part kind: OTI pseudo-tokens, one row per image of the input part (failed ones included,
 * with null vectors), in the order of its images part.
 *   image_id  utf8
 *   token     FixedSizeList<float32>[W] nullable   the raw final v*
 *   ema       FixedSizeList<float32>[W] nullable   its EMA (what phi and retrieval use, as SEARLE)
 *   lcos      float32                              final L_cos (NaN when failed)
 *   lgpt      float32                              final L_gpt (NaN when failed or not used)
 *   steps     int32
 *   seed      uint32                               the seed v* was drawn from
 *   status    utf8                                 'ok' | 'failed'
 *   error     utf8 nullable                        why it failed
 * W is the text encoder's token-embedding width.
 */
import { Field, Float32, Int32, Schema, type Table, Uint32, Utf8 } from 'apache-arrow';
import {
  checkKind, float32Data, int32Data, kindMetadata, readNumbers, readStrings, readVectors, tableOf, uint32Data, utf8Data,
  vectorData, vectorType,
} from './columns.ts';

export const KIND = 'tokens';

export type TokenStatus = 'ok' | 'failed';

export interface TokenRow {
  imageId: string;
  token: Float32Array | null;
  ema: Float32Array | null;
  lcos: number;
  lgpt: number;
  steps: number;
  seed: number;
  status: TokenStatus;
  error?: string | null;
}

export function schema(width: number, metadata: Record<string, string> = {}): Schema {
  return new Schema([
    new Field('image_id', new Utf8(), false),
    new Field('token', vectorType(width), true),
    new Field('ema', vectorType(width), true),
    new Field('lcos', new Float32(), false),
    new Field('lgpt', new Float32(), false),
    new Field('steps', new Int32(), false),
    new Field('seed', new Uint32(), false),
    new Field('status', new Utf8(), false),
    new Field('error', new Utf8(), true),
  ], kindMetadata(KIND, metadata));
}

export function toTable(rows: readonly TokenRow[], width: number, metadata: Record<string, string> = {}): Table {
  for (const r of rows) {
    if (r.status !== 'ok' && r.status !== 'failed') throw new Error(`tokens: row '${r.imageId}' has status '${String(r.status)}'`);
    if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff) throw new Error(`tokens: row '${r.imageId}' seed ${r.seed} is not a uint32`);
  }
  return tableOf(schema(width, metadata), [
    utf8Data(rows.map((r) => r.imageId)),
    vectorData(rows.map((r) => r.token), width, 'token'),
    vectorData(rows.map((r) => r.ema), width, 'ema'),
    float32Data(rows.map((r) => r.lcos)),
    float32Data(rows.map((r) => r.lgpt)),
    int32Data(rows.map((r) => r.steps)),
    uint32Data(rows.map((r) => r.seed)),
    utf8Data(rows.map((r) => r.status)),
    utf8Data(rows.map((r) => r.error ?? null)),
  ], rows.length);
}

export function fromTable(table: Table): { width: number; rows: TokenRow[] } {
  checkKind(table, KIND);
  const ids = readStrings(table, 'image_id');
  const token = readVectors(table, 'token');
  const ema = readVectors(table, 'ema');
  const [lcos, lgpt, steps, seed] = ['lcos', 'lgpt', 'steps', 'seed'].map((c) => readNumbers(table, c));
  const status = readStrings(table, 'status');
  const error = readStrings(table, 'error');
  return {
    width: token.dim,
    rows: ids.map((id, i) => ({
      imageId: id ?? '', token: token.rows[i], ema: ema.rows[i], lcos: lcos[i] ?? NaN, lgpt: lgpt[i] ?? NaN,
      steps: steps[i] ?? 0, seed: seed[i] ?? 0, status: status[i] === 'ok' ? 'ok' : 'failed', error: error[i],
    })),
  };
}
