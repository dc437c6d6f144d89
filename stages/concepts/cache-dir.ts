/**
 * Where vocabulary text features are cached. They depend only on the model, the vocabulary and the
 * templates, not on any dataset, so the default is a per-user cache shared by every run (a user who
 * prepares corpora for many datasets pays for the 20,931 × 24 encodings once per model):
 * $STARWORD_CACHE_DIR, else ~/.cache/starword — the same root as the ONNX graph cache
 * (clip/onnx-session.ts), so one --cache-dir moves both.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STARWORD_CACHE_DIR) return env.STARWORD_CACHE_DIR;
  return join(homedir(), '.cache', 'starword');
}

/** The folder of vocabulary-feature files under a cache root. */
export function vocabFeaturesCacheDir(cacheRoot: string): string {
  return join(cacheRoot, 'vocab-features');
}
