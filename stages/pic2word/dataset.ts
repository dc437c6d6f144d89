/**
 * Pic2Word's training images: raw CLIP image features, nothing else (no OTI, no phrases). Read from
 *   - a run folder (its embed/ parts), an embed folder, or one features .arrow file;
 *   - a merged corpus: the run folder `starword merge DIR` builds at DIR/corpus (every shard's parts,
 *     renumbered), or the sharded run folder DIR that holds it.
 * Only done parts are read (their stats marker written), so a half-written part is never trusted. An
 * id seen twice is kept once. The split into train and held-out is by a stable hash of the image id.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Table, tableFromIPC } from 'apache-arrow';
import * as featuresSchema from '../../schemas/features.ts';
import { listDoneParts, partPaths, readPart, refuseOtherModel } from '../../schemas/part-io.ts';
import { UserError, errorMessage } from '../../util/errors.ts';

/** where `starword merge DIR` builds the corpus of a sharded run */
export const CORPUS_DIR = 'corpus';

export interface FeatureExample { id: string; features: Float32Array }

export interface FeatureSet {
  examples: FeatureExample[];
  dim: number;
  /** files read, in order */
  sources: string[];
  /** rows dropped because their id was already read */
  duplicates: number;
}

/** The features files `source` stands for; throws a UserError naming `what` when there are none. */
export function locateFeatureFiles(source: string, what = 'source'): string[] {
  if (!existsSync(source)) throw new UserError(`${what} ${source}: no such file or folder`);
  if (statSync(source).isFile()) return [source];
  for (const dir of [source, join(source, 'embed'), join(source, CORPUS_DIR, 'embed')]) {
    const done = listDoneParts(dir, featuresSchema.KIND);
    if (done.length) return done.map((i) => partPaths(dir, featuresSchema.KIND, i).arrow);
  }
  if (readdirSync(source).some((n) => /^shard-\d+-of-\d+$/.test(n))) {
    throw new UserError(`${what} ${source}: a sharded run; run \`starword merge ${source}\` first, then pass the same folder`);
  }
  throw new UserError(`${what} ${source}: no finished features parts in it or in its embed/ folder, and no merged corpus (${CORPUS_DIR}/)`);
}

/**
 * A features part through part-io's verified reader (size, hash and rows against its marker) when it has
 * a marker, as every part a stage wrote does; a lone .arrow file the user points at is parsed as it is.
 */
function readTable(path: string, what: string, modelHash?: string): Table {
  const redo = 'rerun the embed stage with this model';
  const m = new RegExp(`^(.*)/${featuresSchema.KIND}-(\\d{5,})\\.arrow$`).exec(path);
  if (m && existsSync(partPaths(m[1], featuresSchema.KIND, Number(m[2])).stats)) {
    return readPart(m[1], featuresSchema.KIND, Number(m[2]), modelHash ? { expectModelHash: modelHash, modelRedo: redo } : {});
  }
  let table: Table;
  try { table = tableFromIPC(readFileSync(path)); } catch (err) { throw new UserError(`${what} ${path}: ${errorMessage(err)}`); }
  if (modelHash) refuseOtherModel(path, table.schema.metadata.get('starword.model_hash') || null, modelHash, redo);
  return table;
}

/** Every image's raw features from the files of `source`; with `modelHash`, parts of another model are refused. */
export function loadFeatureSet(source: string, what = 'source', modelHash?: string): FeatureSet {
  const files = locateFeatureFiles(source, what);
  const seen = new Set<string>();
  const examples: FeatureExample[] = [];
  let dim = 0, duplicates = 0;
  for (const file of files) {
    if (!existsSync(file)) throw new UserError(`${what} ${source}: the features part ${file} is missing`);
    let part: ReturnType<typeof featuresSchema.fromTable>;
    try { part = featuresSchema.fromTable(readTable(file, what, modelHash)); } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`${what} ${file}: ${errorMessage(err)}`);
    }
    if (dim && part.dim !== dim && part.rows.length) throw new UserError(`${what} ${file}: ${part.dim}-d features, earlier parts have ${dim}`);
    if (part.rows.length) dim = part.dim;
    for (const r of part.rows) {
      if (seen.has(r.imageId)) { duplicates++; continue; }
      seen.add(r.imageId);
      examples.push({ id: r.imageId, features: r.features });
    }
  }
  return { examples, dim, sources: files, duplicates };
}
