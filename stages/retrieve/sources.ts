/**
 * Locating the index and token folders a user points at (a run folder or the stage folder itself), and
 * the token sources of the searle method: OTI tokens parts, or a phi network on raw image features.
 */
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { listDoneParts } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';
import { doneKinds } from './gallery.ts';
import { type PhiRunner, type TokenReadOptions, readTokens } from './tokens.ts';

/** `path` itself when it is a file or holds done `kind` parts, else `path/<stage>` when that does. */
export function locateParts(path: string, kind: string, stage: string, what: string): string {
  if (!existsSync(path)) throw new UserError(`${what} ${path}: no such file or folder`);
  if (statSync(path).isFile()) return path;
  if (listDoneParts(path, kind).length > 0) return path;
  const sub = join(path, stage);
  if (listDoneParts(sub, kind).length > 0) return sub;
  const kinds = doneKinds(path);
  throw new UserError(`${what} ${path}: no done '${kind}' parts there or in ${stage}/${kinds.length ? ` (found: ${kinds.join(', ')})` : ''}`);
}

/** A searle token source; mirrors stages/evaluate/run-evaluate.ts's TokenSource. */
export interface TokenProvider {
  needsFeatures: boolean;
  tokens(ids: string[], features: Map<string, Float32Array>): Promise<Map<string, Float32Array>>;
}

export function partsTokenProvider(path: string, opts: TokenReadOptions = {}): TokenProvider {
  const where = locateParts(path, opts.kind ?? 'tokens', 'oti', '--tokens');
  return { needsFeatures: false, tokens: async (ids) => readTokens(where, ids, opts) };
}

export function phiTokenProvider(phi: PhiRunner): TokenProvider {
  return {
    needsFeatures: true,
    async tokens(ids, features) {
      const have = ids.filter((id) => features.has(id));
      const out = await phi.predict(have.map((id) => features.get(id) as Float32Array));
      return new Map(have.map((id, i) => [id, out[i]]));
    },
  };
}
