/**
 * The S* swap: the concept in a phrase becomes the pseudo-word " $ " (CLIP BPE id 259). The text rules
 * live here, below the stages, because the phrases stage (first occurrence) and phi's L_gpt (every
 * occurrence) both apply them; the concept-dropping rule and the default mode are the phrases stage's
 * (stages/phrases/swap.ts).
 *
 * - 'searle' (default): SEARLE's exact `phrase.replace(concept, " $ ", 1)` (case-sensitive substring), and
 *   SEARLE's rule that a concept is dropped whole when any of its phrases lacks it.
 * - 'word' (the default for chat models only, which inflect and recase the concept): the first
 *   occurrence, case-insensitive, on word boundaries ("cat" does not hit "category"), the last word also
 *   in plural form (cat→cats, box→boxes, berry→berries), any whitespace run between the words of a
 *   multi-word concept, regex-special characters taken literally ("c++").
 *   A phrase without the concept is dropped and counted.
 * phi's L_gpt swaps every occurrence instead (`swapAllFor(mode)`, the mode each phrases part records).
 */

export type SwapMode = 'word' | 'searle';
export const SWAP_MODES: readonly SwapMode[] = ['searle', 'word'];

export const PSEUDO_WORD = ' $ ';

// Syntax characters only: under the 'u' flag escaping anything else (such as '-') is itself an error.
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// Letters, digits and underscore make a word; a boundary is the edge of such a run (Unicode-aware).
const WORD_CHAR = '[\\p{L}\\p{N}_]';

/** The regex that finds `concept` in 'word' mode (exported for tests and for reuse by later stages). */
export function conceptRegex(concept: string, flags = 'iu'): RegExp {
  const words = concept.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new RangeError('empty concept');
  const last = words[words.length - 1];
  const parts = words.slice(0, -1).map(escapeRegex);
  parts.push(pluralAlternatives(last));
  const body = parts.join('\\s+');
  // Only demand a boundary where the concept itself starts/ends with a word character: "c++" followed by
  // a space is fine, and "(x)" may sit right next to letters.
  const before = /^[\p{L}\p{N}_]/u.test(words[0]) ? `(?<!${WORD_CHAR})` : '';
  const after = /[\p{L}\p{N}_]$/u.test(last) ? `(?!${WORD_CHAR})` : '';
  return new RegExp(`${before}(?:${body})${after}`, flags);
}

/** 'cat' → cat(?:s|es)?; 'berry' → berr(?:y|ys|ies); words ending in a symbol are literal. */
function pluralAlternatives(word: string): string {
  if (!/[\p{L}]$/u.test(word)) return escapeRegex(word);
  if (/[^aeiou]y$/i.test(word)) return `${escapeRegex(word.slice(0, -1))}(?:y|ys|ies)`;
  return `${escapeRegex(word)}(?:s|es)?`;
}

/** One phrase in 'word' mode: the swapped text, or null when the concept is not in it. */
export function swapWord(phrase: string, concept: string, re: RegExp = conceptRegex(concept)): string | null {
  const m = re.exec(phrase);
  if (!m) return null;
  return phrase.slice(0, m.index) + PSEUDO_WORD + phrase.slice(m.index + m[0].length);
}

/**
 * Every occurrence replaced ('word' rules), as SEARLE's phi training formats its L_gpt phrases; null when
 * the concept is absent.
 */
export function swapWordAll(phrase: string, concept: string): string | null {
  if (!conceptRegex(concept).test(phrase)) return null;
  return phrase.replace(conceptRegex(concept, 'giu'), PSEUDO_WORD);
}

/** One phrase as SEARLE: Python's `phrase.replace(concept, " $ ", 1)`; null when the substring is absent. */
export function swapSearle(phrase: string, concept: string): string | null {
  const at = phrase.indexOf(concept);
  if (at < 0 || concept.length === 0) return null;
  return phrase.slice(0, at) + PSEUDO_WORD + phrase.slice(at + concept.length);
}

/**
 * SEARLE's phi swap: Python's `phrase.replace(concept, " $ ")`, every occurrence, case-sensitive (only the
 * first `$` then carries the token). Returns the phrase unchanged when the concept is absent or empty.
 */
export function swapAll(phrase: string, concept: string): string {
  return concept ? phrase.split(concept).join(PSEUDO_WORD) : phrase;
}

/** phi's all-occurrence swap under a phrases part's mode: SEARLE's for 'searle', the word rules for 'word'. */
export function swapAllFor(mode: SwapMode): (phrase: string, concept: string) => string {
  return mode === 'word' ? (phrase, concept) => swapWordAll(phrase, concept) ?? phrase : swapAll;
}

