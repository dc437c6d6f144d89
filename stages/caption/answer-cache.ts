/**
 * The caption stage's paid answers, in the one LLM answer cache (util/llm/answer-cache.ts): committed the
 * moment each arrives (WAL, synchronous=FULL), so a kill loses at most the requests in flight and a rerun
 * makes zero requests for what is committed.
 *
 * Keys (hash of the JSON of everything that decides the answer):
 * - caption: the image bytes' SHA-256, the vision model, the prompt and the sampling parameters;
 * - recomposition: the caption, the relative caption (instruction), the model, the prompt and parameters.
 * In the shared cache a kind is a configuration and an answer's key its subject; the answer is its one
 * text. Endpoint URLs and keys are never part of a key or a row. A failure is recorded with its
 * (scrubbed) reason and attempt count but not served: the next run asks again. A failure never
 * overwrites a success (another run sharing the file may have committed one).
 *
 * Files written before the caches were one hold an `answers` table: its rows are copied in when the file
 * is first opened, so no paid answer is asked for again.
 */
import { LlmAnswerCache } from '../../util/llm/answer-cache.ts';
import { sha256, stableStringify } from '../../util/hash.ts';

export type AnswerKind = 'caption' | 'recomposition';

export interface AnswerUsage { prompt: number; completion: number }

export class AnswerCache {
  private readonly kinds = new Map<AnswerKind, string>();

  private constructor(private readonly store: LlmAnswerCache) {
    for (const kind of ['caption', 'recomposition'] as const) {
      this.kinds.set(kind, store.register({ backend: `caption-stage:${kind}`, model: '', params: {} }));
    }
    this.migrateAnswersTable();
  }

  static open(path: string): AnswerCache { return new AnswerCache(LlmAnswerCache.open(path, 'caption cache')); }

  get path(): string { return this.store.path; }

  /** The key of an identity: the full SHA-256 (a collision would serve a wrong paid answer). */
  static key(identity: Readonly<Record<string, unknown>>): string { return sha256(stableStringify(identity)); }

  get(kind: AnswerKind, key: string): string | null {
    return this.store.get(this.config(kind), key)?.phrases[0] ?? null;
  }

  failure(kind: AnswerKind, key: string): { reason: string; attempts: number } | null {
    return this.store.failure(this.config(kind), key);
  }

  /** `identity` is what `key` hashes; the key alone is stored. */
  commit(kind: AnswerKind, key: string, _identity: Readonly<Record<string, unknown>>, text: string, usage: AnswerUsage): void {
    this.store.commit(this.config(kind), key, { phrases: [text], usage });
  }

  /** `reason` must already be scrubbed. */
  recordFailure(kind: AnswerKind, key: string, _identity: Readonly<Record<string, unknown>>, reason: string): void {
    this.store.recordFailure(this.config(kind), key, reason, { prompt: 0, completion: 0 });
  }

  close(): void { this.store.close(); }

  private config(kind: AnswerKind): string {
    return this.kinds.get(kind)!;
  }

  /** Copies an older file's `answers` rows into the shared tables once, then renames the table away. */
  private migrateAnswersTable(): void {
    const db = this.store.database;
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'").get()) return;
    this.store.transaction(() => {
      for (const [kind, config] of this.kinds) {
        db.prepare(`INSERT OR IGNORE INTO concepts (config_key, concept, status, n_phrases, prompt_tokens, completion_tokens, failures, reason, updated_at)
          SELECT ?, key, status, CASE WHEN status = 'ok' THEN 1 ELSE 0 END, prompt_tokens, completion_tokens, failures, reason, updated_at
          FROM answers WHERE kind = ?`).run(config, kind);
        db.prepare(`INSERT OR IGNORE INTO phrases (config_key, concept, idx, text)
          SELECT ?, key, 0, text FROM answers WHERE kind = ? AND status = 'ok'`).run(config, kind);
      }
      db.exec('ALTER TABLE answers RENAME TO answers_migrated');
    });
  }
}
