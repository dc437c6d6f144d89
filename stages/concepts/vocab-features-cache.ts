/** Where vocabulary text features are cached: under the per-user cache root (util/cache-dir.ts). */
import { join } from 'node:path';

export { defaultCacheDir } from '../../util/cache-dir.ts';

/** The folder of vocabulary-feature files under a cache root. */
export function vocabFeaturesCacheDir(cacheRoot: string): string {
  return join(cacheRoot, 'vocab-features');
}
