/**
 * File-system failures as user errors: one line naming the path and the cause in words, never an
 * "internal error". Used where files are read or written (schemas/part-io.ts) and by the CLI for any
 * errno error that escapes with a path.
 */
import { UserError } from './errors.ts';

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EEXIST: 'already exists',
  ENOTEMPTY: 'folder not empty',
  ENAMETOOLONG: 'name too long',
  EFBIG: 'file too large',
  EBUSY: 'resource busy',
};

/** True for a Node file-system errno error (a `code` such as 'ENOSPC' listed above, and a `syscall`). */
export function isErrnoError(err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException;
  return err instanceof Error && typeof e.code === 'string' && Object.hasOwn(CAUSES, e.code) && typeof e.syscall === 'string';
}

/** The cause of an errno error in words, e.g. "no space left on the device (ENOSPC, write)". */
export function describeErrno(err: NodeJS.ErrnoException): string {
  const code = err.code ?? 'E?';
  return `${CAUSES[code] ?? err.message.replace(/^[A-Z]+: /, '').replace(/,.*$/, '')} (${code}${err.syscall ? `, ${err.syscall}` : ''})`;
}

/**
 * `err` as a UserError naming `path` (or the path the error carries) when it is a file-system error;
 * anything else unchanged. `doing` says what was attempted ('writing', 'reading').
 */
export function fsUserError(err: unknown, path?: string, doing?: string): unknown {
  if (err instanceof UserError || !isErrnoError(err)) return err;
  const where = path ?? err.path ?? (err as { dest?: string }).dest ?? 'file system';
  return new UserError(`${where}: ${doing ? `${doing} failed: ` : ''}${describeErrno(err)}`);
}

/** Runs `fn`, turning a file-system error into a UserError naming `path`. */
export function withFsErrors<T>(path: string, doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fsUserError(err, path, doing);
  }
}

/**
 * Test-only fault injection: `STARWORD_FAULT_ENOSPC=<substring>` makes writes through part-io to a
 * path containing the substring fail with ENOSPC after half the bytes, as a full disk does. There is no
 * small disk to fill on a build machine; this exercises the same failure path.
 */
export function injectedWriteFault(path: string): NodeJS.ErrnoException | null {
  const needle = process.env.STARWORD_FAULT_ENOSPC;
  if (!needle || !path.includes(needle)) return null;
  const err = new Error(`ENOSPC: no space left on device, write`) as NodeJS.ErrnoException;
  err.code = 'ENOSPC';
  err.errno = -28;
  err.syscall = 'write';
  return err;
}
