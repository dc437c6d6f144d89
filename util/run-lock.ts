/**
 * One writer per run folder (or shard, stage or output folder): `<dir>/.starword.lock`, made with an
 * exclusive create and holding the holder's host, PID, start time and command. A second writer is
 * refused with one line naming the holder. A lock whose process is gone, on this host, is taken over;
 * one held from another host is never second-guessed (its process cannot be checked from here). The
 * lock goes when the holder releases it, exits, or gets SIGINT / SIGTERM. Taking it also sweeps the
 * stale temporary files of the folder and its stage folders: under the lock no one else writes there.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from './errors.ts';
import { fsUserError } from './fs-errors.ts';
import { hostTag, processAlive, sweepStaleTemps } from './temp-name.ts';

export const LOCK_FILE = '.starword.lock';

export interface LockHolder { host: string; pid: number; startedAt: string; command: string }

export interface RunLock {
  dir: string;
  path: string;
  /** temporary files swept when the lock was taken */
  swept: string[];
  release(): void;
}

const held = new Map<string, { count: number; path: string }>();
let handlersInstalled = false;

function releaseAll(): void {
  for (const [, h] of held) try { unlinkSync(h.path); } catch { /* already gone */ }
  held.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', releaseAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      releaseAll();
      // our handler replaced the default one: die of the same signal, as the caller expects
      process.kill(process.pid, signal);
    });
  }
}

function readHolder(path: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

function describe(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host}${h.command ? ` (${h.command})` : ''}, since ${h.startedAt}`;
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fsUserError(err, path, 'creating the lock');
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Stale: on this host and its process gone; or unreadable and old (a holder died while writing it). */
function isStale(path: string, h: LockHolder | null): boolean {
  if (h) return h.host === hostTag() && !processAlive(h.pid);
  try {
    return Date.now() - statSync(path).mtimeMs > 10_000;
  } catch {
    return true;
  }
}

/**
 * Takes the lock of `dir` (created if absent) for this process, or throws a UserError naming the
 * holder. Re-entrant within one process: each acquire needs its release.
 */
export function acquireRunLock(dir: string, command = process.argv.slice(2, 3).join(' ')): RunLock {
  const path = join(dir, LOCK_FILE);
  const mine = held.get(path);
  if (mine) {
    mine.count++;
    return { dir, path, swept: [], release: () => releaseOne(path) };
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fsUserError(err, dir, 'creating the folder');
  }
  const holder: LockHolder = { host: hostTag(), pid: process.pid, startedAt: new Date().toISOString(), command };
  for (let attempt = 0; !tryCreate(path, holder); attempt++) {
    const other = readHolder(path);
    if (attempt >= 3 || !isStale(path, other)) {
      throw new UserError(`${dir} is in use by another starword process (${other ? describe(other) : 'holder unknown'}); `
        + `wait for it, or remove ${path} if that process is gone`);
    }
    takeOver(path, other);
  }
  installExitHandlers();
  held.set(path, { count: 1, path });
  // a writer of the enclosing run folder, or of one of our sub-folders, writes here too
  const nested = liveForeignLock(join(dir, '..')) ?? subFolders(dir).map(liveForeignLock).find((h) => h !== null) ?? null;
  if (nested) {
    releaseOne(path);
    throw new UserError(`${dir} is in use by another starword process (${describe(nested)}, writing ${nested.dir}); wait for it`);
  }
  const swept = sweepFolder(dir);
  return { dir, path, swept, release: () => releaseOne(path) };
}

/**
 * Removes a stale lock. A second, exclusive `.takeover` file makes sure two processes that both found
 * it stale do not remove each other's fresh lock: only the one holding `.takeover` removes, and only
 * after re-reading the lock and finding the same stale holder.
 */
function takeOver(path: string, seen: LockHolder | null): void {
  const gate = `${path}.takeover`;
  const me: LockHolder = { host: hostTag(), pid: process.pid, startedAt: new Date().toISOString(), command: 'takeover' };
  if (!tryCreate(gate, me)) {
    const g = readHolder(gate);
    if (isStale(gate, g)) try { unlinkSync(gate); } catch { /* someone else did */ }
    return;
  }
  try {
    const now = readHolder(path);
    const same = (now === null && seen === null) || (now !== null && seen !== null && now.pid === seen.pid && now.startedAt === seen.startedAt && now.host === seen.host);
    if (same && isStale(path, now)) try { unlinkSync(path); } catch { /* gone already */ }
  } finally {
    try { unlinkSync(gate); } catch { /* gone already */ }
  }
}

function releaseOne(path: string): void {
  const h = held.get(path);
  if (!h) return;
  if (--h.count > 0) return;
  held.delete(path);
  try { unlinkSync(path); } catch { /* already gone */ }
}

function subFolders(dir: string): string[] {
  let names: string[] = [];
  try { names = readdirSync(dir); } catch { /* unreadable: none */ }
  return names.map((n) => join(dir, n)).filter((sub) => {
    try { return statSync(sub).isDirectory(); } catch { return false; }
  });
}

/** The holder of `dir`'s lock when it is a live process other than this one. */
function liveForeignLock(dir: string): (LockHolder & { dir: string }) | null {
  const path = join(dir, LOCK_FILE);
  if (held.has(path) || !existsSync(path)) return null;
  const h = readHolder(path);
  if (!h || isStale(path, h)) return null;
  return { ...h, dir };
}

/** The folder and its immediate sub-folders (the stage folders of a run). */
function sweepFolder(dir: string): string[] {
  const removed = sweepStaleTemps(dir, true);
  for (const sub of subFolders(dir)) {
    if (existsSync(join(sub, LOCK_FILE))) continue; // a sub-folder with its own lock is another writer's business
    removed.push(...sweepStaleTemps(sub, true).map((n) => join(basename(sub), n)));
  }
  return removed;
}

/** Who holds the lock of `dir`, if anyone (for messages and tests). */
export function lockHolder(dir: string): LockHolder | null {
  const path = join(dir, LOCK_FILE);
  return existsSync(path) ? readHolder(path) : null;
}
