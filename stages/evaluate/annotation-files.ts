/** Finding and reading the benchmarks' annotation files, with one-line errors. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';

export function readJsonFile(path: string): unknown {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try { return JSON.parse(text); } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

export function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The first existing file among `candidates` (joined to `root`), or a UserError listing where it looked. */
export function findFile(root: string, candidates: string[], what: string): string {
  for (const c of candidates) {
    const p = join(root, c);
    if (isFile(p)) return p;
  }
  throw new UserError(`${root}: no ${what} (looked for ${candidates.join(', ')})`);
}

/** The first existing file, or undefined. */
export function findOptional(root: string, candidates: string[]): string | undefined {
  for (const c of candidates) {
    const p = join(root, c);
    if (isFile(p)) return p;
  }
  return undefined;
}

/** Field access with a one-line error naming the file and record. */
export function field(rec: Record<string, unknown>, name: string, where: string): unknown {
  if (!(name in rec)) throw new UserError(`${where}: missing field '${name}'`);
  return rec[name];
}

export function stringField(rec: Record<string, unknown>, name: string, where: string): string {
  const v = field(rec, name, where);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new UserError(`${where}: field '${name}' should be a string`);
}

export function recordsOf(json: unknown, where: string): Record<string, unknown>[] {
  if (!Array.isArray(json)) throw new UserError(`${where}: expected a JSON array of queries`);
  return json.map((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new UserError(`${where}: entry ${i} is not an object`);
    return r as Record<string, unknown>;
  });
}
