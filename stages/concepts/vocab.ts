/**
 * Concept vocabularies. The default is Open Images V7's 20,931 class names (the list SEARLE ships,
 * data/oidv7-class-descriptions.csv, read as pandas would: header LabelName,DisplayName, quoted names).
 * A user vocabulary is a CSV/TSV file (column `name`, `DisplayName` or `concept`, else the first column;
 * the first row is always the header) or any other file read as one name per line.
 * Names are trimmed; blank names and exact duplicates are skipped (first kept) and counted.
 */
import { packagePath } from '../../util/package-root.ts';
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { UserError, errorMessage } from '../../util/errors.ts';
import { sha256 } from '../../util/hash.ts';

export const DEFAULT_VOCAB_PATH = packagePath('data', 'oidv7-class-descriptions.csv');

/** Header names that pick the concept column, in order of preference (case-insensitive). */
const NAME_COLUMNS = ['name', 'displayname', 'concept'];

export type VocabFormat = 'csv' | 'tsv' | 'lines';

export interface VocabReport {
  format: VocabFormat;
  /** the header of the column read (CSV/TSV only) */
  column?: string;
  /** data rows or lines read, blank ones included */
  rows: number;
  blank: number;
  duplicates: number;
  /** the first few duplicated names, for the message */
  duplicateExamples: string[];
}

export interface Vocabulary {
  names: string[];
  source: string;
  /** sha256 of the name list (JSON), the vocabulary part of the feature-cache key */
  hash: string;
  report: VocabReport;
}

export function vocabularyHash(names: readonly string[]): string {
  return sha256(JSON.stringify(names));
}

export function formatFromPath(path: string): VocabFormat {
  const ext = extname(path).toLowerCase();
  return ext === '.csv' ? 'csv' : ext === '.tsv' ? 'tsv' : 'lines';
}

/** Loads the vocabulary at `path` (default: Open Images V7). Bad files throw a one-line UserError. */
export function loadVocabulary(path: string = DEFAULT_VOCAB_PATH): Vocabulary {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new Error('is a directory');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read vocabulary ${path}: ${errorMessage(err)}`);
  }
  return parseVocabulary(text, formatFromPath(path), path);
}

export function parseVocabulary(text: string, format: VocabFormat, source: string): Vocabulary {
  if (text.includes('\u0000')) throw new UserError(`vocabulary ${source} is not a text file`);
  const { raw, column } = format === 'lines' ? { raw: splitLines(text), column: undefined } : readTable(text, format, source);
  const names: string[] = [];
  const seen = new Set<string>();
  let blank = 0;
  const duplicateExamples: string[] = [];
  let duplicates = 0;
  for (const value of raw) {
    const name = value.trim();
    if (name === '') { blank++; continue; }
    if (seen.has(name)) {
      duplicates++;
      if (duplicateExamples.length < 3) duplicateExamples.push(name);
      continue;
    }
    seen.add(name);
    names.push(name);
  }
  if (names.length === 0) throw new UserError(`vocabulary ${source} holds no names`);
  return {
    names, source, hash: vocabularyHash(names),
    report: { format, column, rows: raw.length, blank, duplicates, duplicateExamples },
  };
}

function splitLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends a line
  return lines;
}

function readTable(text: string, format: 'csv' | 'tsv', source: string): { raw: string[]; column: string } {
  let rows: string[][];
  try {
    rows = parse(text, {
      bom: true, delimiter: format === 'tsv' ? '\t' : ',', relax_column_count: true, skip_empty_lines: false,
    }) as string[][];
  } catch (err) {
    throw new UserError(`vocabulary ${source} is not valid ${format.toUpperCase()}: ${errorMessage(err)}`);
  }
  // Empty lines come back as [''] rows: counted as blank below, except before the header.
  while (rows.length > 0 && rows[0].every((c) => c.trim() === '')) rows.shift();
  if (rows.length === 0) throw new UserError(`vocabulary ${source} is empty`);
  const header = rows[0].map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  let col = 0;
  for (const want of NAME_COLUMNS) {
    const at = lower.indexOf(want);
    if (at >= 0) { col = at; break; }
  }
  return { raw: rows.slice(1).map((r) => r[col] ?? ''), column: header[col] ?? '' };
}

/** One line for the log: where the names came from and what was skipped. */
export function describeVocabulary(vocab: Vocabulary): string {
  const r = vocab.report;
  const from = r.column !== undefined ? `column '${r.column}' of ${vocab.source}` : vocab.source;
  const skipped: string[] = [];
  if (r.blank > 0) skipped.push(`${r.blank} blank`);
  if (r.duplicates > 0) {
    skipped.push(`${r.duplicates} duplicate${r.duplicates > 1 ? 's' : ''} (${r.duplicateExamples.map((n) => JSON.stringify(n)).join(', ')}${r.duplicates > r.duplicateExamples.length ? ', …' : ''})`);
  }
  return `vocabulary: ${vocab.names.length} names from ${from}${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`;
}
