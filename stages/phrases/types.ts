/**
 * The shapes shared by the phrase stage: a backend turns a concept into raw phrases; everything after
 * (cache, clean-up, swap, targets, Arrow) is backend-agnostic.
 */

export type BackendId = 'completions' | 'chat' | 'templates' | 'import';
export const BACKEND_IDS: readonly BackendId[] = ['completions', 'chat', 'templates', 'import'];

import type { TokenUsage } from '../../util/llm/failures.ts';

// Moved to util/llm (the caption stage pays for requests too); re-exported so phrase code reads as before.
export { ConceptFailedError, RunFatalError, type TokenUsage } from '../../util/llm/failures.ts';

export interface GenerateResult {
  /** Raw phrases as the backend produced them (before clean-up). */
  phrases: string[];
  usage: TokenUsage;
}

export interface PhraseBackend {
  readonly id: BackendId;
  /** The LLM's name, or a label for offline backends ('builtin-templates', the import file's name). */
  readonly model: string;
  /**
   * Everything that decides what the backend writes (prompt template, sampling parameters, …): with `id`
   * and `model` it forms the cache key and the `params_hash` column. Never holds secrets or URLs.
   */
  readonly params: Readonly<Record<string, unknown>>;
  /** Remote backends pay per call: their answers go through the durable cache. Offline ones are recomputed. */
  readonly cacheable: boolean;
  /** Raw phrases for one concept; throws ConceptFailedError when the concept cannot be served. */
  generate(concept: string, n: number, signal?: AbortSignal): Promise<GenerateResult>;
}

export function addUsage(into: TokenUsage, more: TokenUsage): TokenUsage {
  into.prompt += more.prompt;
  into.completion += more.completion;
  return into;
}
