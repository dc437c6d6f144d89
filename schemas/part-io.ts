/**
 * The one reader/writer of Arrow parts. A part is `<kind>-<index>.arrow` in the Arrow IPC *stream*
 * format (what Hugging Face `Dataset.from_file` memory-maps; pyarrow reads it with `ipc.open_stream`).
 * It is written under a temporary name and renamed when complete; then `<kind>-<index>.stats.json` is
 * written the same way, last, as the part's done marker (img2dataset's habit). A part without its stats
 * file is unfinished and is redone on resume; nothing is written twice.
 *
 * The marker vouches for its file: it records the file's size and sha256 and its row count, what the
 * part was made from (`provenance`: the upstream parts' sha256s, the stage's config hash, the model
 * hash), and a checksum of the marker itself (`markerHash`), so an edited marker is caught without
 * reading the part. `checkPart` compares all of that with what is on disk (size always, content under
 * level 'full'); `readPart` checks the content of what it reads anyway.
 *
 * A part whose content fails its marker when read, or when a stage checks whether it is done, is
 * quarantined: the file is moved aside as `<part>.arrow.damaged-<time>` (kept for a look, never read)
 * and its marker removed, so the stage that writes it redoes it on its next run.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { UserError, errorMessage } from '../util/errors.ts';
import { fsUserError, withFsErrors } from '../util/fs-errors.ts';
import { sha256, stableStringify } from '../util/hash.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';

/** What a part was made from; a stage redoes a done part whose provenance differs from what it would use now. */
export interface Provenance {
  /** identity (sha256 as its marker records it) of each upstream part or part set, by name */
  inputs?: Record<string, string>;
  /** hash of the stage's results-deciding options */
  configHash?: string;
  modelHash?: string;
}

export interface PartStats {
  kind: string;
  part: number;
  rows: number;
  schemaVersion: number;
  /** size in bytes and sha256 of the .arrow file */
  bytes?: number;
  sha256?: string;
  provenance?: Provenance;
  /** checksum of this marker's other fields */
  markerHash?: string;
  [extra: string]: unknown;
}

export function partName(kind: string, index: number): string {
  return `${kind}-${String(index).padStart(5, '0')}`;
}

export function partPaths(dir: string, kind: string, index: number): { arrow: string; stats: string } {
  const base = join(dir, partName(kind, index));
  return { arrow: `${base}.arrow`, stats: `${base}.stats.json` };
}

/** The one atomic write (util/atomic-write.ts), re-exported for the writers that import it from here. */
export { writeFileAtomic };

/** The checksum a marker carries of its own fields (all but markerHash). */
export function markerChecksum(stats: PartStats): string {
  return sha256(stableStringify({ ...stats, markerHash: undefined })).slice(0, 16);
}

/** Writes a part's marker (its done signal), checksummed. For stages that build the marker themselves. */
export function writePartMarker(dir: string, kind: string, index: number, stats: PartStats): PartStats {
  const { markerHash: _old, ...rest } = stats;
  const sealed: PartStats = { ...rest, markerHash: markerChecksum(rest as PartStats) };
  writeFileAtomic(partPaths(dir, kind, index).stats, `${JSON.stringify(sealed, null, 2)}\n`);
  return sealed;
}

/** Writes a part's .arrow (no marker yet) and returns what its marker must record of it. */
export function writePartArrow(dir: string, kind: string, index: number, table: Table): { bytes: number; sha256: string } {
  const bytes = tableToIPC(table, 'stream');
  writeFileAtomic(partPaths(dir, kind, index).arrow, bytes);
  return { bytes: bytes.byteLength, sha256: sha256(bytes) };
}

/**
 * Writes a finished part and then its stats marker. `extraStats` lands in the stats JSON; `provenance`
 * records what the part was made from (see Provenance).
 */
export async function writePart(dir: string, kind: string, index: number, table: Table, schemaVersion: number,
  extraStats: Record<string, unknown> = {}, provenance?: Provenance): Promise<PartStats> {
  await mkdir(dir, { recursive: true }).catch((err: unknown) => { throw fsUserError(err, dir, 'creating the folder'); });
  const file = writePartArrow(dir, kind, index, table);
  const stats: PartStats = {
    ...extraStats, kind, part: index, rows: table.numRows, schemaVersion, ...file, ...(provenance ? { provenance } : {}),
  };
  return writePartMarker(dir, kind, index, stats);
}

/** True when the part's marker exists (nothing checked: see checkPart / isPartCurrent). */
export function isPartDone(dir: string, kind: string, index: number): boolean {
  return existsSync(partPaths(dir, kind, index).stats);
}

export function readPartStats(dir: string, kind: string, index: number): PartStats {
  const path = partPaths(dir, kind, index).stats;
  const text = withFsErrors(path, 'reading', () => readFileSync(path, 'utf8'));
  try {
    return JSON.parse(text) as PartStats;
  } catch (err) {
    throw new UserError(`${path}: damaged marker (${errorMessage(err)}); remove it and rerun the stage to redo the part`);
  }
}

export type PartCheck = 'ok' | { path: string; reason: string };

export interface PartExpectation {
  /**
   * 'size': marker, file and size; 'hash': also the content hash, read in chunks (memory that does not
   * grow with the part); 'full': the content hash, the Arrow stream and the rows. checkPart's default is
   * 'size', isPartCurrent's 'hash' (a stage never keeps a part whose bytes differ from what it wrote; the
   * marker's own checksum vouches for the rows).
   */
  level?: 'size' | 'hash' | 'full';
  /** what the part should have been made from: only the fields given are compared */
  provenance?: Provenance;
}

function provenanceDiff(recorded: Provenance | undefined, expected: Provenance): string | null {
  const got = recorded ?? {};
  if (expected.modelHash !== undefined && got.modelHash !== expected.modelHash) return 'made with another model';
  if (expected.configHash !== undefined && got.configHash !== expected.configHash) return 'made with other options';
  const changed = Object.keys(expected.inputs ?? {}).filter((k) => got.inputs?.[k] !== expected.inputs![k]);
  return changed.length > 0 ? `made from other inputs (${changed.join(', ')})` : null;
}

/** The table in `bytes` (an Arrow stream), or the reason it cannot be one. */
function parseStream(bytes: Uint8Array): Table | string {
  try {
    return tableFromIPC(bytes);
  } catch (err) {
    return `damaged Arrow stream (${errorMessage(err).replace(/\.$/, '')})`;
  }
}

function contentProblem(bytes: Uint8Array, stats: PartStats): { problem: string } | { table: Table } {
  if (stats.bytes !== undefined && bytes.byteLength !== stats.bytes) {
    return { problem: `damaged: ${bytes.byteLength} bytes, its marker says ${stats.bytes}` };
  }
  if (stats.sha256 !== undefined && sha256(bytes) !== stats.sha256) return { problem: 'damaged: its content differs from the sha256 in its marker' };
  const table = parseStream(bytes);
  if (typeof table === 'string') return { problem: table };
  if (table.numRows !== stats.rows) return { problem: `holds ${table.numRows} rows, its marker says ${stats.rows}` };
  return { table };
}

/** The sha256 of a file read in 4 MiB chunks: memory that does not grow with the file. */
function fileSha256(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(4 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Whether a done part can be trusted: its marker parses and is not edited, its file exists with the
 * size the marker records (and, under level 'full', the same sha256, a whole Arrow stream and the
 * marker's row count), and it was made from `expected.provenance`. Never throws for a bad part.
 */
export function checkPart(dir: string, kind: string, index: number, expected: PartExpectation = {}): PartCheck {
  const paths = partPaths(dir, kind, index);
  const bad = (reason: string, path = paths.arrow): PartCheck => ({ path, reason });
  if (!existsSync(paths.stats)) return bad('not done (no marker)', paths.stats);
  let stats: PartStats;
  try {
    stats = readPartStats(dir, kind, index);
  } catch (err) {
    return bad(`marker unreadable (${errorMessage(err).replace(`${paths.stats}: `, '')})`, paths.stats);
  }
  if (stats.markerHash !== undefined && stats.markerHash !== markerChecksum(stats)) return bad('its marker was edited (its checksum does not match)', paths.stats);
  if (stats.bytes === undefined || stats.sha256 === undefined) return bad('its marker records no size or checksum (written by an older starword)', paths.stats);
  let size: number;
  try {
    size = statSync(paths.arrow).size;
  } catch {
    return bad('missing (its marker is there)');
  }
  if (size !== stats.bytes) return bad(`damaged: ${size} bytes, its marker says ${stats.bytes}`);
  if (expected.level === 'hash') {
    let digest: string;
    try { digest = fileSha256(paths.arrow); } catch (err) { return bad(errorMessage(fsUserError(err, paths.arrow)).replace(`${paths.arrow}: `, '')); }
    if (digest !== stats.sha256) return bad('damaged: its content differs from the sha256 in its marker');
  }
  if (expected.level === 'full') {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(paths.arrow);
    } catch (err) {
      return bad(errorMessage(fsUserError(err, paths.arrow)).replace(`${paths.arrow}: `, ''));
    }
    const c = contentProblem(bytes, stats);
    if ('problem' in c) return bad(c.problem);
  }
  if (expected.provenance) {
    const diff = provenanceDiff(stats.provenance, expected.provenance);
    if (diff) return bad(diff, paths.stats);
  }
  return 'ok';
}

/** Where a quarantined part goes: beside it, named by the time it was found damaged. */
export function quarantinePath(arrow: string, now = new Date()): string {
  return `${arrow}.damaged-${now.toISOString().replace(/[:.]/g, '-')}`;
}

/**
 * Moves a damaged part aside (see quarantinePath) and then removes its marker, so it is no longer done
 * and the stage that writes it redoes it. Returns where the file went (null when it was already gone).
 */
export function quarantinePart(dir: string, kind: string, index: number): string | null {
  const paths = partPaths(dir, kind, index);
  let aside: string | null = quarantinePath(paths.arrow);
  try {
    renameSync(paths.arrow, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsUserError(err, paths.arrow, 'moving the damaged part aside');
    aside = null;
  }
  try { unlinkSync(paths.stats); } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsUserError(err, paths.stats, 'removing the damaged part\'s marker');
  }
  return aside;
}

/**
 * The done-check of a stage: true when the part is done and checkPart finds it sound, its content
 * hash included (level 'hash' unless asked otherwise). A part with a marker that fails the check is to be
 * redone: a file whose content fails is quarantined, otherwise the marker alone is removed (so old and
 * new never mix); `log` gets one line naming the file and why.
 */
export function isPartCurrent(dir: string, kind: string, index: number, expected: PartExpectation = {},
  log?: (line: string) => void): boolean {
  const paths = partPaths(dir, kind, index);
  if (!existsSync(paths.stats)) return false;
  if (adoptLegacyPart(dir, kind, index, expected, log)) return true;
  const check = checkPart(dir, kind, index, { level: 'hash', ...expected });
  if (check === 'ok') return true;
  if (check.path === paths.arrow && existsSync(paths.arrow)) {
    const aside = quarantinePart(dir, kind, index);
    log?.(`redoing ${check.path}: ${check.reason}; moved aside to ${aside}`);
    return false;
  }
  log?.(`redoing ${check.path}: ${check.reason}`);
  try { unlinkSync(paths.stats); } catch (err) { throw fsUserError(err, paths.stats, 'removing the stale marker'); }
  return false;
}

/**
 * A part finished by a starword older than these markers (no size, hash or checksum in its marker) is
 * not thrown away: hours of OTI may be in it. Its content is checked in full (whole Arrow stream, the
 * marker's rows), and when sound its marker is completed, taking the provenance the stage expects now
 * (the run manifest guarded the config these parts were made with). Returns true when adopted.
 */
function adoptLegacyPart(dir: string, kind: string, index: number, expected: PartExpectation, log?: (line: string) => void): boolean {
  let stats: PartStats;
  try { stats = readPartStats(dir, kind, index); } catch { return false; }
  if (stats.bytes !== undefined || stats.sha256 !== undefined || stats.markerHash !== undefined) return false;
  const paths = partPaths(dir, kind, index);
  let bytes: Uint8Array;
  try { bytes = readFileSync(paths.arrow); } catch { return false; }
  if ('problem' in contentProblem(bytes, stats)) return false;
  writePartMarker(dir, kind, index, { ...stats, bytes: bytes.byteLength, sha256: sha256(bytes), provenance: expected.provenance ?? stats.provenance });
  log?.(`kept ${paths.arrow}: made by an older starword, its content checks out; its marker now records size, sha256 and provenance`);
  return true;
}

/** Short enough for one line, long enough to tell two models apart. */
const shortHash = (h: string): string => (h.length > 16 ? h.slice(0, 16) : h);

/** The model a part's marker says it was made with, or null (made without a model, or by an older starword). */
export function partModelHash(stats: PartStats): string | null {
  const h = stats.provenance?.modelHash;
  return typeof h === 'string' && h !== '' ? h : null;
}

/**
 * Refuses, in one line naming the marker, a done part whose marker records a model other than
 * `modelHash` (what a reader given that model must never mix in: two CLIPs of one width read alike).
 * A part that records no model passes: it was made without one, or before markers recorded it.
 */
export function checkPartModel(dir: string, kind: string, index: number, modelHash: string, redo: string): void {
  refuseOtherModel(partPaths(dir, kind, index).stats, partModelHash(readPartStats(dir, kind, index)), modelHash, redo);
}

/** The one-line refusal of a part (`where`) that `recorded` made, read with `modelHash`; nothing when they agree or none is recorded. */
export function refuseOtherModel(where: string, recorded: string | null, modelHash: string, redo: string): void {
  if (recorded !== null && recorded !== modelHash) {
    throw new UserError(`${where}: made with another model (${shortHash(recorded)}, this model is ${shortHash(modelHash)}); ${redo}`);
  }
}

/** The identity of a done part for provenance: the sha256 its marker records ('' when it has none). */
export function partIdentity(dir: string, kind: string, index: number): string {
  if (!existsSync(partPaths(dir, kind, index).stats)) return '';
  return String(readPartStats(dir, kind, index).sha256 ?? '');
}

/** One identity for every done part of `kind` in `dir` (a set of parts read together, e.g. the phrases). */
export function partSetIdentity(dir: string, kind: string): string {
  return sha256(listDoneParts(dir, kind).map((i) => `${i}:${partIdentity(dir, kind, i)}`).join('\n')).slice(0, 16);
}

export interface ReadPartOptions {
  /** check size, sha256 and rows against the marker (default true; the hash costs little next to the parse) */
  verify?: boolean;
  /**
   * move a part that fails the check aside (see quarantinePart) so its stage redoes it (default true);
   * false for readers that only look (inspect, report), which may run beside a writer
   */
  quarantine?: boolean;
  /**
   * the model the reader works with: a part whose marker records another one is refused in one line
   * naming the marker and both models (a part that records none passes, see checkPartModel)
   */
  expectModelHash?: string;
  /** what that refusal tells the user to do (default: rerun the stage that writes it with this model) */
  modelRedo?: string;
}

/**
 * Reads a done part. A missing, truncated or damaged file, or one that disagrees with its marker,
 * gives one UserError naming the file and the cause; a file that disagrees with its marker is
 * quarantined first (unless `quarantine: false`).
 */
export function readPart(dir: string, kind: string, index: number, opts: ReadPartOptions = {}): Table {
  const paths = partPaths(dir, kind, index);
  const redo = 'rerun the stage that writes it to redo it';
  if (opts.expectModelHash !== undefined && existsSync(paths.stats)) {
    checkPartModel(dir, kind, index, opts.expectModelHash, opts.modelRedo ?? 'rerun the stage that writes it with this model');
  }
  const bytes = withFsErrors(paths.arrow, 'reading', () => readFileSync(paths.arrow));
  const stats = opts.verify === false || !existsSync(paths.stats) ? null : readPartStats(dir, kind, index);
  if (stats) {
    const c = contentProblem(bytes, stats);
    if ('problem' in c) {
      const aside = opts.quarantine === false ? null : quarantinePart(dir, kind, index);
      throw new UserError(`${paths.arrow}: ${c.problem}; ${aside ? `moved aside to ${aside}; ` : ''}${redo}`);
    }
    return c.table;
  }
  const table = parseStream(bytes);
  if (typeof table === 'string') throw new UserError(`${paths.arrow}: ${table}; ${redo}`);
  return table;
}

/**
 * Removes the parts of `kinds` in `dir` whose index is not in `keep` (their input part is gone, e.g.
 * after a replan with fewer parts), marker first so no half-removed part looks done. One log line each.
 */
export function removePartsWithout(dir: string, kinds: string[], keep: Iterable<number>, log?: (line: string) => void): number[] {
  const wanted = new Set(keep);
  const removed = new Set<number>();
  for (const kind of kinds) {
    for (const index of listDoneParts(dir, kind).filter((i) => !wanted.has(i))) {
      const paths = partPaths(dir, kind, index);
      for (const f of [paths.stats, paths.arrow]) try { unlinkSync(f); } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsUserError(err, f, 'removing a stale part');
      }
      log?.(`removed ${paths.arrow}: its input part is gone`);
      removed.add(index);
    }
  }
  return [...removed].sort((a, b) => a - b);
}

/** Indices of the done parts of `kind` in `dir`, ascending. */
export function listDoneParts(dir: string, kind: string): number[] {
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${kind.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{5,})\\.stats\\.json$`);
  const out: number[] = [];
  for (const name of withFsErrors(dir, 'listing', () => readdirSync(dir))) {
    const m = re.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}
