/**
 * Whether a model folder is a real checkpoint or one of starword's own test models, which decides if
 * template phrases feeding L_gpt deserve a warning. Not real: a random model from `make-model` (its
 * config.json carries RANDOM_MODEL_MARK) and anything under starword's own data/ folder (the toy world).
 * Everything else — a Hugging Face CLIP folder — is treated as real.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { packagePath } from '../../util/package-root.ts';

export const RANDOM_MODEL_MARK = 'starword_random_weights';
const DATA_DIR = packagePath('data');

/** Why the folder is not a real checkpoint, or null when it is one. */
export function testModelReason(dir: string): string | null {
  try {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    if (cfg[RANDOM_MODEL_MARK] !== undefined) return 'random weights from make-model';
  } catch {
    return null; // loadClipModel has read it already; an unreadable file here only skips the test
  }
  const rel = relative(realpathSync(DATA_DIR), realpathSync(dir));
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return "starword's vendored data";
  return null;
}

export function isRealCheckpoint(dir: string): boolean {
  return testModelReason(dir) === null;
}
