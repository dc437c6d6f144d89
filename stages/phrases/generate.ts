/**
 * The paid part of a run: every needed concept that the cache does not hold is generated and committed,
 * a few concepts in flight at a time (their requests share the scheduler's queue). A concept is committed
 * as soon as its last request is back, so a kill loses at most the concepts in flight.
 */
import type { LlmAnswerCache } from '../../util/llm/answer-cache.ts';
import { scrub } from '../../util/llm/secrets.ts';
import { ConceptFailedError, type PhraseBackend, type TokenUsage, addUsage } from './types.ts';

export type ConceptEvent =
  | { concept: string; status: 'cached' }
  | { concept: string; status: 'generated'; phrases: number }
  | { concept: string; status: 'failed'; reason: string };

export interface GenerationOptions {
  concepts: readonly string[];
  backend: PhraseBackend;
  cache: LlmAnswerCache;
  cacheKey: string;
  n: number;
  /** Concepts generated concurrently. */
  workers: number;
  onConcept?: (event: ConceptEvent) => void;
}

export interface GenerationReport {
  cached: number;
  generated: number;
  /** concept → reason (scrubbed). */
  failed: Map<string, string>;
  usage: TokenUsage;
}

export async function generateMissing(opts: GenerationOptions): Promise<GenerationReport> {
  const report: GenerationReport = { cached: 0, generated: 0, failed: new Map(), usage: { prompt: 0, completion: 0 } };
  const todo: string[] = [];
  for (const concept of opts.concepts) {
    if (opts.cache.has(opts.cacheKey, concept)) {
      report.cached++;
      opts.onConcept?.({ concept, status: 'cached' });
    } else {
      todo.push(concept);
    }
  }
  let next = 0;
  let fatal: unknown;
  const worker = async (): Promise<void> => {
    while (fatal === undefined && next < todo.length) {
      const concept = todo[next++];
      try {
        const result = await opts.backend.generate(concept, opts.n);
        opts.cache.commit(opts.cacheKey, concept, { phrases: result.phrases, usage: result.usage });
        addUsage(report.usage, result.usage);
        report.generated++;
        opts.onConcept?.({ concept, status: 'generated', phrases: result.phrases.length });
      } catch (err) {
        if (err instanceof ConceptFailedError) {
          const reason = scrub(err.message);
          opts.cache.recordFailure(opts.cacheKey, concept, reason, err.usage);
          addUsage(report.usage, err.usage);
          report.failed.set(concept, reason);
          opts.onConcept?.({ concept, status: 'failed', reason });
        } else {
          fatal ??= err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, todo.length)) }, worker));
  // RunFatalError (bad key, unknown model) or a bug: either way the run cannot go on.
  if (fatal !== undefined) throw fatal;
  return report;
}
