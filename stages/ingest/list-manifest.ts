/**
 * Lists the images of a CSV manifest. The first row is a header: the path column is the one named
 * 'path', 'image' or 'file' (case-insensitive), and a header without one is refused (taking some other
 * column as paths would fail much later, far from the cause); an optional 'id' column gives
 * the ids (else the path relative to the manifest's folder). A manifest without a header (its first
 * cell already an image path) is read as a single path column. Paths resolve against the manifest's
 * folder and may not leave it unless `allowOutside`; ids must be unique.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { UserError, errorMessage } from '../../util/errors.ts';
import { type ImageRef, compareIds, isImageName, relativeId } from './image-files.ts';

export interface ManifestOptions {
  allowOutside?: boolean;
}

const PATH_NAMES = ['path', 'image', 'file'];

export async function listImageManifest(manifestArg: string, opts: ManifestOptions = {}): Promise<ImageRef[]> {
  const manifest = resolve(manifestArg);
  const root = dirname(manifest);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    const text = await readFile(manifest, 'utf8');
    records = parse(text, { bom: true, skip_empty_lines: true, trim: true, info: true, relax_column_count: true }) as unknown as typeof records;
  } catch (err) {
    throw new UserError(`manifest ${manifestArg}: ${errorMessage(err)}`);
  }
  if (records.length === 0) throw new UserError(`manifest ${manifestArg}: empty`);

  const header = records[0].record.map((h) => h.toLowerCase());
  const named = header.findIndex((h) => PATH_NAMES.includes(h));
  const headerless = named < 0 && !header.includes('id') && isImageName(header[0] ?? '');
  if (named < 0 && !headerless) {
    throw new UserError(`manifest ${manifestArg}: no path column in the header ${JSON.stringify(records[0].record.join(','))} `
      + `(name one column path, image or file)`);
  }
  const pathCol = named >= 0 ? named : 0;
  const idCol = headerless ? -1 : header.indexOf('id');
  const rows = headerless ? records : records.slice(1);

  const seen = new Map<string, number>();
  const images: ImageRef[] = [];
  for (const { record, info } of rows) {
    const where = `manifest ${manifestArg} line ${info.lines}`;
    const written = record[pathCol] ?? '';
    if (!written) throw new UserError(`${where}: empty path`);
    const path = resolve(root, written);
    const rel = relative(root, path);
    if (!opts.allowOutside && (rel.startsWith('..') || isAbsolute(rel))) {
      throw new UserError(`${where}: path '${written}' leaves the manifest's folder (pass --allow-outside to permit it)`);
    }
    let id = relativeId(root, path);
    if (idCol >= 0) {
      id = record[idCol] ?? '';
      if (!id) throw new UserError(`${where}: empty id`);
    }
    const before = seen.get(id);
    if (before !== undefined) throw new UserError(`${where}: duplicate id '${id}' (first on line ${before})`);
    seen.set(id, info.lines);
    images.push({ id, path });
  }
  images.sort((a, b) => compareIds(a.id, b.id));
  return images;
}
