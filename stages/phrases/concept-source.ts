/**
 * The concepts a run needs: a text file of names (one per line), or a directory of `concepts` parts
 * (column `concepts`, a list of names per image, best first), of which the union of each row's first
 * `topK` is taken. Order: first appearance; duplicates removed.
 */
import { readFileSync, statSync } from 'node:fs';
import { KIND as CONCEPTS_KIND, fromTable } from '../../schemas/concepts.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { UserError, errorMessage } from '../../util/errors.ts';

export function readConceptNames(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const name = line.trim();
    if (name) seen.add(name);
  }
  return [...seen];
}

export function conceptsFromParts(dir: string, topK: number): string[] {
  const parts = listDoneParts(dir, CONCEPTS_KIND);
  if (parts.length === 0) throw new UserError(`--concepts ${dir}: no finished '${CONCEPTS_KIND}' parts in this directory`);
  const seen = new Set<string>();
  for (const index of parts) {
    let rows;
    try { rows = fromTable(readPart(dir, CONCEPTS_KIND, index)); } catch (err) {
      throw new UserError(`--concepts ${dir}: part ${index}: ${errorMessage(err)}`);
    }
    for (const row of rows) {
      for (let k = 0; k < Math.min(topK, row.concepts.length); k++) if (row.concepts[k]) seen.add(row.concepts[k]);
    }
  }
  return [...seen];
}

/** Reads `path` as a concepts-parts directory or a names file. */
export function loadConcepts(path: string, topK: number): string[] {
  let isDir: boolean;
  try { isDir = statSync(path).isDirectory(); } catch { throw new UserError(`--concepts ${path}: no such file or directory`); }
  const concepts = isDir ? conceptsFromParts(path, topK) : readConceptNames(readFileSync(path, 'utf8'));
  if (concepts.length === 0) throw new UserError(`--concepts ${path}: no concepts found`);
  return concepts;
}
