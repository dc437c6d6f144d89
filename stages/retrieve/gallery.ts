/**
 * A gallery is read block by block: ids plus raw (unnormalised) feature rows. Only one Arrow part and
 * one block are held at a time, so ranking a 120,000-image gallery needs memory for a part, not for the
 * gallery. Gallery order (part order, then row order) is the tie-break order of the ranking.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { type Table, tableFromIPC } from 'apache-arrow';
import { listDoneParts, readPart, refuseOtherModel } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';
import { FEATURE_COLUMNS, ID_COLUMNS, idColumn, pickColumn, vectorColumn } from './arrow-columns.ts';

export interface GalleryBlock {
  ids: string[];
  /** ids.length × dim raw features, row-major; may be a view into the source: do not write to it. */
  vectors: Float32Array;
  dim: number;
  /** gallery position of ids[0] */
  start: number;
}

export interface GallerySource {
  /** Blocks of at most `blockRows` rows, in gallery order. */
  blocks(blockRows: number): AsyncIterable<GalleryBlock>;
}

/** A gallery already in memory (tests, small galleries). */
export class MemoryGallery implements GallerySource {
  constructor(readonly ids: string[], readonly vectors: Float32Array, readonly dim: number) {
    if (vectors.length !== ids.length * dim) throw new Error(`MemoryGallery: ${vectors.length} values for ${ids.length}×${dim}`);
  }
  async *blocks(blockRows: number): AsyncIterable<GalleryBlock> {
    for (let s = 0; s < this.ids.length; s += blockRows) {
      const e = Math.min(s + blockRows, this.ids.length);
      yield { ids: this.ids.slice(s, e), vectors: this.vectors.subarray(s * this.dim, e * this.dim), dim: this.dim, start: s };
    }
  }
}

export interface PartsGalleryOptions {
  /** part kind to read (default: `features`) */
  kind?: string;
  idColumn?: string;
  vectorColumn?: string;
  /** the model the reader works with: parts (or a file) that record another model are refused */
  modelHash?: string;
}

/** Kinds that have done parts in `dir`, for a helpful error. */
export function doneKinds(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const kinds = new Set<string>();
  for (const name of readdirSync(dir)) {
    const m = /^(.+)-\d{5,}\.stats\.json$/.exec(name);
    if (m) kinds.add(m[1]);
  }
  return [...kinds].sort();
}

/** What a reader given a model tells the user to do with a part of another model. */
const MODEL_REDO: Record<string, string> = {
  features: 'embed these images with this model (starword embed-images or index), or pass the model they were embedded with',
  tokens: 'invert these images with this model (starword oti or invert), or pass the model they were made with',
};

/**
 * The tables of a vector source: a folder of done parts of `kind`, or one `.arrow` file (IPC stream or
 * file format). Yields one table at a time. With `modelHash`, a part whose marker (or a file whose
 * `starword.model_hash` metadata) records another model is refused in one line before it is used.
 */
export function* readVectorTables(path: string, kind: string, modelHash?: string): Generator<{ table: Table; where: string }> {
  if (!existsSync(path)) throw new UserError(`${path}: no such file or folder`);
  const modelRedo = MODEL_REDO[kind] ?? 'remake it with this model';
  if (statSync(path).isFile()) {
    let table: Table;
    try { table = tableFromIPC(readFileSync(path)); } catch (err) {
      throw new UserError(`${path}: not an Arrow IPC file (${(err as Error).message})`);
    }
    if (modelHash !== undefined) refuseOtherModel(path, table.schema.metadata.get('starword.model_hash') || null, modelHash, modelRedo);
    yield { table, where: path };
    return;
  }
  const parts = listDoneParts(path, kind);
  if (parts.length === 0) {
    const kinds = doneKinds(path);
    throw new UserError(`${path}: no done '${kind}' parts${kinds.length ? ` (found kinds: ${kinds.join(', ')})` : ''}`);
  }
  for (const index of parts) {
    yield { table: readPart(path, kind, index, { expectModelHash: modelHash, modelRedo }), where: `${path} ${kind} part ${index}` };
  }
}

/** A gallery stored as Arrow parts (the embed stage's features parts) or a single Arrow file. */
export class PartsGallery implements GallerySource {
  constructor(readonly path: string, readonly opts: PartsGalleryOptions = {}) {}

  async *blocks(blockRows: number): AsyncIterable<GalleryBlock> {
    let start = 0;
    let dim = -1;
    for (const { table, where } of readVectorTables(this.path, this.opts.kind ?? 'features', this.opts.modelHash)) {
      const idName = pickColumn(table, ID_COLUMNS, this.opts.idColumn, where);
      const vecName = pickColumn(table, FEATURE_COLUMNS, this.opts.vectorColumn, where);
      for (const batch of table.batches) {
        if (batch.numRows === 0) continue;
        const ids = idColumn(batch, idName);
        const { values, dim: d } = vectorColumn(batch, vecName, where);
        if (dim < 0) dim = d;
        else if (d !== dim) throw new UserError(`${where}: feature dim ${d} differs from earlier parts (${dim})`);
        for (let s = 0; s < ids.length; s += blockRows) {
          const e = Math.min(s + blockRows, ids.length);
          yield { ids: ids.slice(s, e), vectors: values.subarray(s * dim, e * dim), dim, start };
          start += e - s;
        }
      }
      // Let the part's buffers go before reading the next one.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** The rows of `source` whose id passes `keep`, renumbered in order (e.g. FashionIQ's per-category gallery). */
export class FilteredGallery implements GallerySource {
  constructor(readonly source: GallerySource, readonly keep: (id: string) => boolean) {}
  async *blocks(blockRows: number): AsyncIterable<GalleryBlock> {
    let start = 0;
    for await (const b of this.source.blocks(blockRows)) {
      const rows: number[] = [];
      for (let i = 0; i < b.ids.length; i++) if (this.keep(b.ids[i])) rows.push(i);
      if (rows.length === 0) continue;
      if (rows.length === b.ids.length) { yield { ...b, start }; start += rows.length; continue; }
      const vectors = new Float32Array(rows.length * b.dim);
      rows.forEach((r, j) => vectors.set(b.vectors.subarray(r * b.dim, (r + 1) * b.dim), j * b.dim));
      yield { ids: rows.map((r) => b.ids[r]), vectors, dim: b.dim, start };
      start += rows.length;
    }
  }
}

/** Raw feature rows of the wanted ids (one pass over the source); ids not found are absent from the map. */
export async function collectRows(source: GallerySource, wanted: Iterable<string>, blockRows = 4096): Promise<Map<string, Float32Array>> {
  const want = new Set(wanted);
  const out = new Map<string, Float32Array>();
  if (want.size === 0) return out;
  for await (const b of source.blocks(blockRows)) {
    for (let i = 0; i < b.ids.length; i++) {
      const id = b.ids[i];
      if (want.has(id) && !out.has(id)) out.set(id, b.vectors.slice(i * b.dim, (i + 1) * b.dim));
    }
    if (out.size === want.size) break;
  }
  return out;
}

/** All ids of the gallery in order (ids only: a few MB for 120,000 images). */
export async function galleryIds(source: GallerySource, blockRows = 4096): Promise<string[]> {
  const ids: string[] = [];
  for await (const b of source.blocks(blockRows)) for (const id of b.ids) ids.push(id);
  return ids;
}
