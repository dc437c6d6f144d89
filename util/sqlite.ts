/**
 * The durable SQLite caches (phrases, captions): one host, WAL so a reader never blocks the writer,
 * synchronous FULL so a committed answer survives a crash, and a busy timeout for a second process on the
 * same file. WAL does not work across hosts on a network file system: never share one file between
 * machines (merge caches instead).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError, errorMessage } from './errors.ts';

/** Opens (creating) the database at `path` and applies `schema`; a failure is one line naming `what` and the file. */
export function openDurableSqlite(path: string, schema: string, what: string): Database.Database {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 10000');
    db.exec(schema);
    return db;
  } catch (err) {
    throw new UserError(`${what} ${path}: ${errorMessage(err)}`);
  }
}
