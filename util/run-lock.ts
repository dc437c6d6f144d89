/**
 * One writer per run folder (or shard, stage or output folder): `<dir>/.starword.lock`, made with an
 * exclusive create and holding the holder's host, PID, PID namespace, heartbeat cadence, start time and
 * command. A second writer is refused with one line naming the holder.
 *
 * Liveness is the heartbeat: the holder refreshes the lock file's mtime every `heartbeatMs` from a worker
 * thread (so a long synchronous stretch of the main thread does not stop it), and a lock whose mtime is
 * older than `staleMs` is taken over, from any host or namespace. A PID alone cannot say that: two
 * writers that share a hostname but not a PID namespace (containers with host networking, Kubernetes
 * hostNetwork) see each other's PIDs as dead or as someone else. So a PID is trusted only within the
 * holder's own namespace on its own host: there, a dead holder's lock is taken over at once.
 *
 * Why not proper-lockfile: its refusal cannot name the holder (a mkdir lock holds no data), its mtime
 * updates run on the main event loop (a blocked loop looks dead), and a killed holder's lock waits out
 * the stale time even where its PID proves it gone.
 *
 * The lock goes when the holder releases it, exits, or gets SIGINT / SIGTERM. Taking it also sweeps the
 * stale temporary files of the folder and its stage folders: under the lock no one else writes there.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { UserError } from './errors.ts';
import { fsUserError } from './fs-errors.ts';
import { hostTag, processAlive, sweepStaleTemps } from './temp-name.ts';

export const LOCK_FILE = '.starword.lock';

export interface LockHolder {
  host: string;
  pid: number;
  /** `/proc/self/ns/pid` of the holder (absent off Linux, and in locks of older versions) */
  pidNs?: string;
  /** how often the holder refreshes the lock's mtime, and after how long without it the lock is stale */
  heartbeatMs?: number;
  staleMs?: number;
  startedAt: string;
  command: string;
}

/** The heartbeat cadence: STARWORD_LOCK_HEARTBEAT_MS (tests shorten it), 5 s by default; stale after six missed. */
function heartbeatMs(): number {
  const v = Number(process.env.STARWORD_LOCK_HEARTBEAT_MS);
  return Number.isInteger(v) && v > 0 ? v : 5000;
}

let ownPidNs: string | null | undefined;
/** This process's PID namespace, e.g. `pid:[4026531836]`; null where there is no /proc. */
export function pidNamespace(): string | null {
  if (ownPidNs === undefined) {
    try { ownPidNs = readlinkSync('/proc/self/ns/pid'); } catch { ownPidNs = null; }
  }
  return ownPidNs;
}

export interface RunLock {
  dir: string;
  path: string;
  /** temporary files swept when the lock was taken */
  swept: string[];
  release(): void;
}

const held = new Map<string, { count: number; path: string }>();
let handlersInstalled = false;

// The heartbeat runs in a worker thread: its own event loop keeps beating while the main one is busy.
// Eval code is CommonJS, or ESM under the parent's --input-type=module. require() where there is one:
// a dynamic import may go through loader hooks (tsx) that wait on the busy main thread.
const HEARTBEAT_CODE = `
(async () => {
  const load = (name) => (typeof require === 'function' ? Promise.resolve(require(name)) : import(name));
  const { parentPort, workerData } = await load('node:worker_threads');
  const { utimesSync } = await load('node:fs');
  const paths = new Set();
  parentPort.on('message', (m) => { if (m.add) paths.add(m.add); if (m.remove) paths.delete(m.remove); });
  setInterval(() => {
    const now = new Date();
    for (const p of paths) try { utimesSync(p, now, now); } catch { /* released or removed: nothing to refresh */ }
  }, workerData.intervalMs);
})();
`;
let heartbeat: Worker | null = null;

function beat(path: string): void {
  if (!heartbeat) {
    heartbeat = new Worker(HEARTBEAT_CODE, { eval: true, workerData: { intervalMs: heartbeatMs() } });
    heartbeat.unref(); // never what keeps the process alive
  }
  heartbeat.postMessage({ add: path });
}

function stopBeating(path: string): void {
  if (!heartbeat) return;
  if (held.size === 0) {
    void heartbeat.terminate();
    heartbeat = null;
  } else {
    heartbeat.postMessage({ remove: path });
  }
}

function releaseAll(): void {
  for (const [, h] of held) try { unlinkSync(h.path); } catch { /* already gone */ }
  held.clear();
  if (heartbeat) void heartbeat.terminate();
  heartbeat = null;
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

function describe(h: LockHolder, path?: string): string {
  const age = path && h.heartbeatMs ? heartbeatAgeMs(path) : null;
  const beat = age === null ? '' : `, heartbeat ${(age / 1000).toFixed(0)} s ago (taken over after ${((h.staleMs ?? 6 * (h.heartbeatMs ?? 0)) / 1000).toFixed(0)} s)`;
  return `pid ${h.pid} on ${h.host}${h.command ? ` (${h.command})` : ''}, since ${h.startedAt}${beat}`;
}

function heartbeatAgeMs(path: string): number | null {
  try {
    return Math.max(0, Date.now() - statSync(path).mtimeMs);
  } catch {
    return null;
  }
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

/**
 * Stale: its heartbeat stopped (mtime older than its staleMs); or its holder is a dead process of this
 * host and PID namespace; or it is unreadable and old (a holder died while writing it). A lock of an
 * older version (no heartbeat) is stale when its PID is dead on this host, as those versions decided.
 */
function isStale(path: string, h: LockHolder | null): boolean {
  const age = heartbeatAgeMs(path);
  if (age === null) return true;
  if (!h) return age > 10_000;
  const here = h.host === hostTag();
  if (!h.heartbeatMs) return here && !processAlive(h.pid);
  if (age > (h.staleMs ?? 6 * h.heartbeatMs)) return true;
  return here && h.pidNs !== undefined && h.pidNs === pidNamespace() && !processAlive(h.pid);
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
  const beatMs = heartbeatMs();
  const ns = pidNamespace();
  const holder: LockHolder = {
    host: hostTag(), pid: process.pid, ...(ns ? { pidNs: ns } : {}), heartbeatMs: beatMs, staleMs: 6 * beatMs,
    startedAt: new Date().toISOString(), command,
  };
  for (let attempt = 0; !tryCreate(path, holder); attempt++) {
    const other = readHolder(path);
    if (attempt >= 3 || !isStale(path, other)) {
      throw new UserError(`${dir} is in use by another starword process (${other ? describe(other, path) : 'holder unknown'}); `
        + `wait for it, or remove ${path} if that process is gone`);
    }
    takeOver(path, other);
  }
  installExitHandlers();
  held.set(path, { count: 1, path });
  beat(path);
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
  // the gate lives for milliseconds and gets no heartbeat: stale after 10 s, or when its holder is dead here
  const ns = pidNamespace();
  const me: LockHolder = { host: hostTag(), pid: process.pid, ...(ns ? { pidNs: ns } : {}), heartbeatMs: 10_000, staleMs: 10_000, startedAt: new Date().toISOString(), command: 'takeover' };
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
  stopBeating(path);
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
