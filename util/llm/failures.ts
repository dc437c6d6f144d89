/**
 * The two ways a paid request can fail for good, shared by every stage that calls an LLM: one item (a
 * concept's phrases, an image's caption, a query's recomposition) cannot be served and is recorded, or
 * the whole run cannot go on (bad key, unknown model). The scheduler throws them; callers record or stop.
 */

export interface TokenUsage { prompt: number; completion: number }

/** An item that could not be served (every retry spent, a malformed answer, missing from an import file). */
export class ConceptFailedError extends Error {
  constructor(message: string, readonly usage: TokenUsage = { prompt: 0, completion: 0 }) {
    super(message);
    this.name = 'ConceptFailedError';
  }
}

/** An error that no other item can get past either (bad key, unknown model): the run stops. */
export class RunFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFatalError';
  }
}
