/**
 * The durable cache of paid answers of this stage: SQLite (better-sqlite3) in WAL mode with
 * synchronous=FULL, one row per answer, committed the moment it arrives, so a kill loses at most the
 * requests in flight and a rerun makes zero requests for what is committed.
 *
 * Keys (hash of the JSON of everything that decides the answer; the JSON itself is kept for humans):
 * - caption: the image bytes' SHA-256, the vision model, the prompt and the sampling parameters;
 * - recomposition: the caption, the relative caption (instruction), the model, the prompt and parameters.
 * Endpoint URLs and keys are never part of a key or a row. A failure is recorded with its (scrubbed)
 * reason and attempt count but not served: the next run asks again. A failure never overwrites a success
 * (another run sharing the file may have committed one).
 */
import type Database from 'better-sqlite3';
import { openDurableSqlite } from '../../util/sqlite.ts';
import { sha256, stableStringify } from '../../util/hash.ts';

export type AnswerKind = 'caption' | 'recomposition';

export interface AnswerUsage { prompt: number; completion: number }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS answers (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  identity_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
  text TEXT,
  reason TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (kind, key)
);
`;

export class AnswerCache {
  private readonly db: Database.Database;
  private readonly stmts;

  private constructor(readonly path: string) {
    this.db = openDurableSqlite(path, SCHEMA, 'caption cache');
    this.stmts = {
      get: this.db.prepare("SELECT text FROM answers WHERE kind = ? AND key = ? AND status = 'ok'"),
      failure: this.db.prepare("SELECT reason, failures FROM answers WHERE kind = ? AND key = ? AND status = 'failed'"),
      ok: this.db.prepare(`INSERT INTO answers (kind, key, identity_json, status, text, reason, failures, prompt_tokens, completion_tokens, updated_at)
        VALUES (?, ?, ?, 'ok', ?, NULL, 0, ?, ?, ?)
        ON CONFLICT (kind, key) DO UPDATE SET status = 'ok', text = excluded.text, reason = NULL,
          prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens, updated_at = excluded.updated_at`),
      failed: this.db.prepare(`INSERT INTO answers (kind, key, identity_json, status, text, reason, failures, updated_at)
        VALUES (?, ?, ?, 'failed', NULL, ?, 1, ?)
        ON CONFLICT (kind, key) DO UPDATE SET failures = failures + 1, reason = excluded.reason, updated_at = excluded.updated_at
        WHERE status = 'failed'`),
    };
  }

  static open(path: string): AnswerCache { return new AnswerCache(path); }

  /** The key of an identity: the full SHA-256 (a collision would serve a wrong paid answer). */
  static key(identity: Readonly<Record<string, unknown>>): string { return sha256(stableStringify(identity)); }

  get(kind: AnswerKind, key: string): string | null {
    const row = this.stmts.get.get(kind, key) as { text: string } | undefined;
    return row ? row.text : null;
  }

  failure(kind: AnswerKind, key: string): { reason: string; attempts: number } | null {
    const row = this.stmts.failure.get(kind, key) as { reason: string | null; failures: number } | undefined;
    return row ? { reason: row.reason ?? '', attempts: row.failures } : null;
  }

  commit(kind: AnswerKind, key: string, identity: Readonly<Record<string, unknown>>, text: string, usage: AnswerUsage): void {
    this.stmts.ok.run(kind, key, stableStringify(identity), text, usage.prompt, usage.completion, new Date().toISOString());
  }

  /** `reason` must already be scrubbed. */
  recordFailure(kind: AnswerKind, key: string, identity: Readonly<Record<string, unknown>>, reason: string): void {
    this.stmts.failed.run(kind, key, stableStringify(identity), reason, new Date().toISOString());
  }

  close(): void { this.db.close(); }
}
