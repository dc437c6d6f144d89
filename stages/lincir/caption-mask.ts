/**
 * The keyword of a caption, by the concept vocabulary, and the caption with it masked (LinCIR's
 * self-masking on a caption file). LinCIR (navervision/lincir loader.py) finds its keywords with spaCy:
 * runs of NOUN/PROPN/ADJ/DET tokens, every run replaced by the pseudo-word, a random word when none is
 * found. starword has no tagger; it masks what the concept vocabulary names, one keyword per caption:
 *
 * - a vocabulary name is found as the 'word' swap finds a concept (clip/text/pseudo-word-swap.ts):
 *   case-insensitive, on word boundaries, its last word also in plural form ("dog" finds "dogs");
 * - the keyword is the **longest** name found (characters of the name; "red car" over "car"), ties broken
 *   by the earliest place in the caption, then by vocabulary order;
 * - its first occurrence becomes " $ " (one pseudo-word, as the phrases stage's swap: starword's graphs
 *   put the token at the first `$` only);
 * - a caption without any vocabulary name is skipped (and counted by the caller), not masked at random.
 *
 * Finding candidates does not run every name's regex: names are indexed by their first word, and a
 * caption looks up its own words (and their singular forms); only those names' regexes run.
 */
import { PSEUDO_WORD, conceptRegex } from '../../clip/text/pseudo-word-swap.ts';

const WORD = /[\p{L}\p{N}_]+/gu;

const wordsOf = (text: string): string[] => (text.toLowerCase().match(WORD) ?? []);

/** The word itself and the singulars a plural could come from (cats → cat, boxes → box, berries → berry). */
function lookupKeys(word: string): string[] {
  const keys = [word];
  if (word.endsWith('ies')) keys.push(`${word.slice(0, -3)}y`);
  if (word.endsWith('es')) keys.push(word.slice(0, -2));
  if (word.endsWith('s')) keys.push(word.slice(0, -1));
  return keys;
}

export interface MaskedCaption {
  /** the vocabulary name masked */
  keyword: string;
  /** the caption with the keyword's first occurrence replaced by " $ " */
  masked: string;
}

export class VocabularyMasker {
  /** first word of a name (lower case) → the names' indices in vocabulary order */
  private readonly byFirstWord = new Map<string, number[]>();
  /** names without a word character: checked in every caption */
  private readonly symbolic: number[] = [];
  private readonly regexes = new Map<number, RegExp>();

  constructor(private readonly names: readonly string[]) {
    names.forEach((name, i) => {
      const first = wordsOf(name)[0];
      if (first === undefined) { this.symbolic.push(i); return; }
      let list = this.byFirstWord.get(first);
      if (!list) this.byFirstWord.set(first, (list = []));
      list.push(i);
    });
  }

  private regex(i: number): RegExp {
    let re = this.regexes.get(i);
    if (!re) this.regexes.set(i, (re = conceptRegex(this.names[i])));
    return re;
  }

  /** The caption's keyword and masked text, or null when no vocabulary name is in it. */
  mask(caption: string): MaskedCaption | null {
    const candidates = new Set<number>(this.symbolic);
    for (const w of wordsOf(caption)) for (const k of lookupKeys(w)) for (const i of this.byFirstWord.get(k) ?? []) candidates.add(i);
    let best: { i: number; at: number; len: number; nameLength: number } | null = null;
    for (const i of [...candidates].sort((a, b) => a - b)) {
      const m = this.regex(i).exec(caption);
      if (!m) continue;
      const nameLength = this.names[i].trim().length;
      if (!best || nameLength > best.nameLength || (nameLength === best.nameLength && m.index < best.at)) {
        best = { i, at: m.index, len: m[0].length, nameLength };
      }
    }
    if (!best) return null;
    return { keyword: this.names[best.i], masked: caption.slice(0, best.at) + PSEUDO_WORD + caption.slice(best.at + best.len) };
  }
}
