/**
 * A caption file, read as a stream (memory flat in its length): `.jsonl`/`.ndjson` files are JSON Lines,
 * one object a line whose `caption` (else `text`) field is a string; any other file is one caption a
 * line. Blank lines are not captions (counted). A line that is not such an object, or a file that is not
 * text, fails in one line naming the file and line.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError, errorMessage } from '../../util/errors.ts';

export type CaptionFormat = 'lines' | 'jsonl';

export function captionFormat(path: string): CaptionFormat {
  const ext = extname(path).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : 'lines';
}

/** The file's size, or a one-line refusal when it is not a readable file. */
export function checkCaptionFile(path: string): number {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a file');
    return st.size;
  } catch (err) {
    throw new UserError(`--captions ${path}: ${errorMessage(err)}`);
  }
}

/** sha256 of the file's bytes, read in chunks. */
export async function hashCaptionFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** One line of the file: its number (1-based) and its caption, or null for a blank line. */
export interface CaptionLine { line: number; caption: string | null }

function captionOf(raw: string, format: CaptionFormat, path: string, line: number): string | null {
  if (raw.includes('\u0000')) throw new UserError(`--captions ${path}:${line}: not a text file (a NUL byte)`);
  if (raw.trim() === '') return null;
  if (format === 'lines') return raw.trim();
  let v: unknown;
  try { v = JSON.parse(raw); } catch (err) {
    throw new UserError(`--captions ${path}:${line}: not JSON (${errorMessage(err)}); a .jsonl file holds one object a line`);
  }
  const o = v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null;
  const c = o ? (typeof o.caption === 'string' ? o.caption : typeof o.text === 'string' ? o.text : undefined) : undefined;
  if (c === undefined) throw new UserError(`--captions ${path}:${line}: an object with a string "caption" or "text" field expected`);
  return c.trim() === '' ? null : c.trim();
}

/** The file's lines, in order, streamed. */
export async function* readCaptionLines(path: string, format: CaptionFormat = captionFormat(path)): AsyncGenerator<CaptionLine> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of rl) {
      line++;
      yield { line, caption: captionOf(line === 1 ? raw.replace(/^\uFEFF/, '') : raw, format, path, line) };
    }
  } finally {
    rl.close();
  }
}
