/**
 * The one durable cache of paid LLM answers: the phrases stage's (a concept's phrases under a backend
 * configuration) and the caption stage's (a caption or a recomposition under its identity; its adapter
 * is stages/caption/answer-cache.ts). SQLite (better-sqlite3) in WAL mode. A concept's raw phrases, its token usage
 * and its status are committed in ONE transaction once all its requests are done, so a SIGKILL at any
 * moment leaves each concept either fully committed or absent: nothing half-written, nothing duplicated
 * (the phrases' primary key is (config, concept, index) and a commit replaces, never appends).
 *
 * synchronous=FULL: every commit fsyncs the WAL. A killed process loses nothing committed even with
 * NORMAL (the WAL write has reached the OS); FULL also survives a power cut or kernel crash, and costs one
 * fsync per concept, which is nothing next to the LLM calls it protects.
 *
 * Keyed by a config key (hash of backend, model, prompt template and sampling parameters) plus the concept.
 * Raw phrases are stored, so changing clean-up or swap rules never costs a request. Failed concepts are
 * recorded (with the reason) but not served: the next run retries them. Several runs may share one cache
 * file (busy_timeout lets them take turns).
 */
import type Database from 'better-sqlite3';
import { hashJson, stableStringify } from '../hash.ts';
import { openDurableSqlite } from '../sqlite.ts';
import type { TokenUsage } from './failures.ts';

export interface CacheConfig {
  backend: string;
  model: string;
  params: Readonly<Record<string, unknown>>;
}

export interface CachedConcept {
  phrases: string[];
  usage: TokenUsage;
}

export interface FailureRecord { reason: string; attempts: number }

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS configs (
  config_key TEXT PRIMARY KEY,
  config_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS concepts (
  config_key TEXT NOT NULL,
  concept TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
  n_phrases INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  reason TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (config_key, concept)
);
CREATE TABLE IF NOT EXISTS phrases (
  config_key TEXT NOT NULL,
  concept TEXT NOT NULL,
  idx INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (config_key, concept, idx)
);
`;

/** The cache key of a backend configuration (16 hex). */
export function configKey(cfg: CacheConfig): string {
  return hashJson({ backend: cfg.backend, model: cfg.model, params: cfg.params });
}

export class LlmAnswerCache {
  private readonly db: Database.Database;
  private readonly stmts;

  private constructor(readonly path: string, what: string) {
    this.db = openDurableSqlite(path, SCHEMA, what);
    this.stmts = {
      config: this.db.prepare('INSERT OR IGNORE INTO configs (config_key, config_json, created_at) VALUES (?, ?, ?)'),
      status: this.db.prepare('SELECT status, prompt_tokens, completion_tokens FROM concepts WHERE config_key = ? AND concept = ?'),
      phrases: this.db.prepare('SELECT text FROM phrases WHERE config_key = ? AND concept = ? ORDER BY idx'),
      failure: this.db.prepare("SELECT reason, failures FROM concepts WHERE config_key = ? AND concept = ? AND status = 'failed'"),
      deletePhrases: this.db.prepare('DELETE FROM phrases WHERE config_key = ? AND concept = ?'),
      insertPhrase: this.db.prepare('INSERT INTO phrases (config_key, concept, idx, text) VALUES (?, ?, ?, ?)'),
      upsertOk: this.db.prepare(`INSERT INTO concepts (config_key, concept, status, n_phrases, prompt_tokens, completion_tokens, failures, reason, updated_at)
        VALUES (?, ?, 'ok', ?, ?, ?, 0, NULL, ?)
        ON CONFLICT (config_key, concept) DO UPDATE SET status = 'ok', n_phrases = excluded.n_phrases,
          prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
          reason = NULL, updated_at = excluded.updated_at`),
      // A failure never overwrites a success (another run sharing the cache may have committed it).
      upsertFailed: this.db.prepare(`INSERT INTO concepts (config_key, concept, status, n_phrases, prompt_tokens, completion_tokens, failures, reason, updated_at)
        VALUES (?, ?, 'failed', 0, ?, ?, 1, ?, ?)
        ON CONFLICT (config_key, concept) DO UPDATE SET failures = failures + 1, reason = excluded.reason,
          prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
          updated_at = excluded.updated_at
        WHERE status = 'failed'`),
    };
  }

  /** Opens (creating when absent) the cache at `path`; `what` names it in errors. */
  static open(path: string, what = 'cache'): LlmAnswerCache { return new LlmAnswerCache(path, what); }

  /** Runs `fn` in one immediate transaction (a migration, several commits at once). */
  transaction(fn: () => void): void { this.db.transaction(fn).immediate(); }

  /** The underlying database, for a migration of an older file only. */
  get database(): Database.Database { return this.db; }

  /** Records the human-readable configuration behind a key (once) and returns the key. */
  register(cfg: CacheConfig): string {
    const key = configKey(cfg);
    this.stmts.config.run(key, stableStringify(cfg), new Date().toISOString());
    return key;
  }

  /** The committed phrases of a concept, or null when not committed (absent or failed). */
  get(key: string, concept: string): CachedConcept | null {
    const row = this.stmts.status.get(key, concept) as
      { status: string; prompt_tokens: number; completion_tokens: number } | undefined;
    if (!row || row.status !== 'ok') return null;
    const phrases = (this.stmts.phrases.all(key, concept) as { text: string }[]).map((r) => r.text);
    return { phrases, usage: { prompt: row.prompt_tokens, completion: row.completion_tokens } };
  }

  has(key: string, concept: string): boolean {
    const row = this.stmts.status.get(key, concept) as { status: string } | undefined;
    return row?.status === 'ok';
  }

  failure(key: string, concept: string): FailureRecord | null {
    const row = this.stmts.failure.get(key, concept) as { reason: string | null; failures: number } | undefined;
    return row ? { reason: row.reason ?? '', attempts: row.failures } : null;
  }

  /** Commits all of a concept's phrases at once (replacing anything there). */
  commit(key: string, concept: string, value: CachedConcept): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.stmts.deletePhrases.run(key, concept);
      value.phrases.forEach((text, i) => this.stmts.insertPhrase.run(key, concept, i, text));
      this.stmts.upsertOk.run(key, concept, value.phrases.length, value.usage.prompt, value.usage.completion, now);
    }).immediate();
  }

  /** Records a failure (reason already scrubbed); a later run retries the concept. */
  recordFailure(key: string, concept: string, reason: string, usage: TokenUsage): void {
    this.stmts.upsertFailed.run(key, concept, usage.prompt, usage.completion, reason, new Date().toISOString());
  }

  close(): void { this.db.close(); }
}
