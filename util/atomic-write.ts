/**
 * The one atomic write: every file or folder starword leaves behind is built under a temporary name of
 * this process alone (util/temp-name.ts: host, pid and a random suffix) and renamed into place, so a
 * reader sees the old content or the new, never a half. Files are fsynced before the rename; a failure
 * removes the temporary file and surfaces as one line naming the path (util/fs-errors.ts).
 *
 * Why not the write-file-atomic package: its temporary name is a hash of (its own path, pid, thread,
 * call count), which is the same in two containers that share a folder and run node under one PID;
 * measured here, two such writers of one file fail about 5% of their writes (ENOENT on a temporary
 * file the other renamed) and can write into one temporary file. It also ignores short writes (a
 * disk that fills mid-write leaves a truncated file renamed into place), and its names are not ones
 * sweepStaleTemps can attribute to a dead writer.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { fsUserError, injectedWriteFault } from './fs-errors.ts';
import { tempPath } from './temp-name.ts';

/** Writes all of `bytes` at the file position (write(2) may write less than asked: a full disk does). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Builds a file through `write(fd)` atomically: temporary file, fsync, rename. Returns what `write` returns. */
export function writeFileAtomicWith<T>(path: string, write: (fd: number) => T): T {
  const tmp = tempPath(path);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    const result = write(fd);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
    return result;
  } catch (err) {
    if (fd !== null) try { closeSync(fd); } catch { /* already failing */ }
    rmSync(tmp, { force: true });
    throw fsUserError(err, path, 'writing');
  }
}

/**
 * Writes bytes (or text, as UTF-8) to `path` atomically. `STARWORD_FAULT_ENOSPC` (tests) makes the
 * write fail after half the bytes, as a full disk does.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  writeFileAtomicWith(path, (fd) => {
    const fault = injectedWriteFault(path);
    if (!fault) return writeAllSync(fd, bytes);
    writeAllSync(fd, bytes.subarray(0, bytes.length >> 1));
    throw fault;
  });
}

/** The async form of writeFileAtomicWith: `write` gets an open FileHandle (streams large content). */
export async function writeFileAtomicWithAsync<T>(path: string, write: (fh: import('node:fs/promises').FileHandle) => Promise<T>): Promise<T> {
  const tmp = tempPath(path);
  let fh: import('node:fs/promises').FileHandle | null = null;
  try {
    fh = await open(tmp, 'w');
    const result = await write(fh);
    await fh.sync();
    await fh.close();
    fh = null;
    await rename(tmp, path);
    return result;
  } catch (err) {
    if (fh !== null) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw fsUserError(err, path, 'writing');
  }
}

/** Writes bytes or text to `path` atomically, without blocking the event loop. */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  await writeFileAtomicWithAsync(path, async (fh) => {
    const fault = injectedWriteFault(path);
    const end = fault ? bytes.length >> 1 : bytes.length;
    for (let off = 0; off < end;) off += (await fh.write(bytes, off, end - off)).bytesWritten;
    if (fault) throw fault;
  });
}

/**
 * Builds something at a temporary path with `build(tmp)` (a folder, or a file another library writes,
 * such as an SQLite database) and renames it to `path`. On failure the temporary path is removed and
 * the error names `path`. A folder rename onto an existing folder fails (ENOTEMPTY/EEXIST): callers
 * that race for one cache entry catch that and use the winner's. Files are not fsynced here: `build`
 * does it where the content must survive a crash.
 */
export function buildAtomically<T>(path: string, build: (tmp: string) => T, doing = 'writing'): T {
  const tmp = tempPath(path);
  try {
    const result = build(tmp);
    renameSync(tmp, path);
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true }); // ours alone
    throw fsUserError(err, path, doing);
  }
}

/** fsyncs a file by path (for files that another library wrote and closed). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
