/**
 * The one reader/writer of Arrow parts. A part is `<kind>-<index>.arrow` in the Arrow IPC *stream*
 * format (what Hugging Face `Dataset.from_file` memory-maps; pyarrow reads it with `ipc.open_stream`).
 * It is written under a temporary name and renamed when complete; then `<kind>-<index>.stats.json` is
 * written the same way, last, as the part's done marker (img2dataset's habit). A part without its stats
 * file is unfinished and is redone on resume; nothing is written twice.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';

export interface PartStats {
  kind: string;
  part: number;
  rows: number;
  schemaVersion: number;
  [extra: string]: unknown;
}

export function partName(kind: string, index: number): string {
  return `${kind}-${String(index).padStart(5, '0')}`;
}

export function partPaths(dir: string, kind: string, index: number): { arrow: string; stats: string } {
  const base = join(dir, partName(kind, index));
  return { arrow: `${base}.arrow`, stats: `${base}.stats.json` };
}

/** Writes bytes to `path` atomically: temporary file, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Writes a finished part and then its stats marker. `extraStats` lands in the stats JSON. */
export async function writePart(dir: string, kind: string, index: number, table: Table, schemaVersion: number,
  extraStats: Record<string, unknown> = {}): Promise<PartStats> {
  await mkdir(dir, { recursive: true });
  const paths = partPaths(dir, kind, index);
  writeFileAtomic(paths.arrow, tableToIPC(table, 'stream'));
  const stats: PartStats = { ...extraStats, kind, part: index, rows: table.numRows, schemaVersion };
  writeFileAtomic(paths.stats, `${JSON.stringify(stats, null, 2)}\n`);
  return stats;
}

export function isPartDone(dir: string, kind: string, index: number): boolean {
  return existsSync(partPaths(dir, kind, index).stats);
}

export function readPartStats(dir: string, kind: string, index: number): PartStats {
  return JSON.parse(readFileSync(partPaths(dir, kind, index).stats, 'utf8')) as PartStats;
}

/** Reads a done part. */
export function readPart(dir: string, kind: string, index: number): Table {
  return tableFromIPC(readFileSync(partPaths(dir, kind, index).arrow));
}

/** Indices of the done parts of `kind` in `dir`, ascending. */
export function listDoneParts(dir: string, kind: string): number[] {
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${kind.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{5,})\\.stats\\.json$`);
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}
