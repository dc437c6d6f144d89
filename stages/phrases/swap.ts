/**
 * The phrases stage's swap: the text rules of clip/text/pseudo-word-swap.ts (re-exported here), SEARLE's rule
 * that drops a concept when any of its phrases lacks it, and the default mode per backend.
 */
import { type SwapMode, conceptRegex, swapSearle, swapWord } from '../../clip/text/pseudo-word-swap.ts';

export * from '../../clip/text/pseudo-word-swap.ts';

/**
 * The swap when none is asked for: SEARLE's, except for chat models, whose answers recase and inflect the
 * concept ("Cats", "a cat's") so that SEARLE's case-sensitive rule would drop nearly every concept.
 */
export function defaultSwapFor(backend: string): SwapMode {
  return backend === 'chat' ? 'word' : 'searle';
}

export interface SwappedPhrase { phrase: string; swapped: string }

export interface SwapResult {
  kept: SwappedPhrase[];
  /** Phrases that did not contain the concept. */
  droppedWithoutConcept: number;
  /** 'searle' mode only: the whole concept was dropped because some phrase lacked it. */
  conceptDropped: boolean;
}

/** Swaps all of a concept's phrases under `mode`. */
export function swapConceptPhrases(concept: string, phrases: readonly string[], mode: SwapMode): SwapResult {
  const kept: SwappedPhrase[] = [];
  let droppedWithoutConcept = 0;
  const re = mode === 'word' ? conceptRegex(concept) : null;
  for (const phrase of phrases) {
    const swapped = re ? swapWord(phrase, concept, re) : swapSearle(phrase, concept);
    if (swapped === null) droppedWithoutConcept++;
    else kept.push({ phrase, swapped });
  }
  if (mode === 'searle' && droppedWithoutConcept > 0) {
    return { kept: [], droppedWithoutConcept, conceptDropped: true };
  }
  return { kept, droppedWithoutConcept, conceptDropped: false };
}
