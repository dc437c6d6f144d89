/**
 * The per-user cache root: $STARWORD_CACHE_DIR, else ~/.cache/starword. Built graphs and vocabulary
 * text features live under it; they depend on the model (and vocabulary), not on any dataset, so every
 * run shares them. One --cache-dir moves all of it.
 *
 * Three different things are called a cache in starword, and only the first lives here:
 * - the graph cache (this root, `graphs/` and `vocab-features/`): derived files, safe to delete, rebuilt;
 * - the phrase cache (`phrases-cache.sqlite`, `phrases --cache`) and the
 *   caption answers, in one store (util/llm/answer-cache.ts): paid LLM answers, never safe to delete;
 * - OTI's prefix cache (clip/towers/prefix-cache.ts): the text tower's keys and values of a template's
 *   prefix, in memory for one OTI session.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.STARWORD_CACHE_DIR || join(homedir(), '.cache', 'starword');
}
