/**
 * Splits a concept's n samples into requests of at most `batchN` (servers cap n per request) and tops up
 * when a server returns fewer samples than asked (llama.cpp's and Ollama's completions ignore `n`).
 * All-or-nothing: one batch that fails after its retries fails the concept, so nothing partial is committed.
 */
import { ConceptFailedError, type GenerateResult, type TokenUsage, addUsage } from './types.ts';

export type BatchRequest = (samples: number, batchIndex: number) => Promise<GenerateResult>;

/** Top-up rounds after the first when answers come back short; a round that adds nothing ends it. */
const MAX_TOP_UP_ROUNDS = 8;

export async function generateInBatches(n: number, batchN: number, request: BatchRequest): Promise<GenerateResult> {
  const usage: TokenUsage = { prompt: 0, completion: 0 };
  const phrases: string[] = [];
  let batchIndex = 0;
  for (let round = 0; phrases.length < n && round <= MAX_TOP_UP_ROUNDS; round++) {
    const sizes: number[] = [];
    for (let left = n - phrases.length; left > 0; left -= batchN) sizes.push(Math.min(batchN, left));
    const settled = await Promise.allSettled(sizes.map((k) => request(k, batchIndex++)));
    let added = 0;
    let failure: unknown;
    for (const s of settled) {
      if (s.status === 'fulfilled') {
        addUsage(usage, s.value.usage);
        phrases.push(...s.value.phrases);
        added += s.value.phrases.length;
      } else {
        failure ??= s.reason;
        if (s.reason instanceof ConceptFailedError) addUsage(usage, s.reason.usage);
      }
    }
    if (failure !== undefined) {
      if (failure instanceof ConceptFailedError) throw new ConceptFailedError(failure.message, usage);
      throw failure;
    }
    if (added === 0) break;
  }
  if (phrases.length === 0) throw new ConceptFailedError('the server returned no samples', usage);
  return { phrases: phrases.slice(0, n), usage };
}
