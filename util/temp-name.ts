/**
 * Temporary file names that no two writers share: `<path>.tmp-<host>-<pid>-<random hex>`. The host and
 * the random suffix matter because containers commonly run node under the same PID, and pods that share
 * a cache folder would otherwise write the same temporary file. The owner is readable back from the
 * name, so a sweep can tell a stale file (its process is gone) from one being written.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** This machine's name as it appears in temporary names and locks (no '-' so names parse back). */
export function hostTag(): string {
  return hostname().replace(/[^A-Za-z0-9_.]/g, '_') || 'host';
}

export function tempPath(path: string): string {
  return `${path}.tmp-${hostTag()}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

export interface TempOwner { host: string | null; pid: number }

/** The owner encoded in a temporary name; null when `name` is not one. Old names (`.tmp-<pid>`) have no host. */
export function tempOwner(name: string): TempOwner | null {
  const m = /\.tmp-(?:([A-Za-z0-9_.]+)-)?(\d+)(?:-[0-9a-f]+)?$/.exec(name);
  if (!m) return null;
  return { host: m[1] ?? null, pid: Number(m[2]) };
}

/** True when a process with this id runs on this machine (EPERM: it runs, under another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (and folders) in `dir` that no live process owns. `exclusive` says the
 * caller holds the folder's lock: then no writer of another host can be at work there, and their
 * temporary names are stale too. This host's files go when their process is gone. Old host-less names
 * (`.tmp-<pid>`) count as this host's. Returns the names removed.
 *
 * Without the lock (a shared cache folder), a PID that is dead here may be a live writer of another PID
 * namespace with the same hostname (containers with host networking): such a file also has to be
 * untouched for `UNLOCKED_STALE_MS` before it goes, which no writer at work leaves it.
 */
export const UNLOCKED_STALE_MS = 60_000;

export function sweepStaleTemps(dir: string, exclusive: boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const here = hostTag();
  const removed: string[] = [];
  for (const name of names) {
    const owner = tempOwner(name);
    if (!owner) continue;
    if (owner.host === here && owner.pid === process.pid) continue;
    // this version never writes host-less names: an old-style one is stale unless its process lives
    const stale = owner.host === null ? owner.pid === process.pid || !processAlive(owner.pid)
      // a live process on this host is never robbed, lock or not (it may write a sub-folder of ours)
      : owner.host === here ? !processAlive(owner.pid) : exclusive;
    if (!stale) continue;
    if (!exclusive && !untouchedFor(join(dir, name), UNLOCKED_STALE_MS)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function untouchedFor(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false; // gone already
  }
}
