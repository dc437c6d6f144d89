/**
 * The per-user cache root: $STARWORD_CACHE_DIR, else ~/.cache/starword. Built graphs and vocabulary
 * text features live under it; they depend on the model (and vocabulary), not on any dataset, so every
 * run shares them. One --cache-dir moves all of it.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.STARWORD_CACHE_DIR || join(homedir(), '.cache', 'starword');
}
