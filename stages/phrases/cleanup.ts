/**
 * SEARLE's phrase clean-up, then the filters a CLIP text corpus needs: exact duplicates (after clean-up),
 * empty phrases, and phrases longer than CLIP's context (77 tokens with SOT and EOT) are dropped.
 */

export const CLIP_CONTEXT = 77;

/** Newline runs become '. ', dot runs become one '.', then trim (SEARLE's rules; '\r' counts as newline). */
export function cleanPhrase(raw: string): string {
  return raw.replace(/[\r\n]+/g, '. ').replace(/\.{2,}/g, '.').trim();
}

export interface CleanupCounts { empty: number; duplicate: number; tooLong: number }

export interface CleanupResult { phrases: string[]; dropped: CleanupCounts }

/**
 * Cleans, dedupes (first occurrence kept, order kept) and filters. `countTokens(text)` must count the ids
 * CLIP would feed the encoder, SOT and EOT included (ClipTokenizer.encode(text).length + 2).
 */
export function cleanPhrases(raw: readonly string[], countTokens: (text: string) => number,
  context = CLIP_CONTEXT): CleanupResult {
  const seen = new Set<string>();
  const phrases: string[] = [];
  const dropped: CleanupCounts = { empty: 0, duplicate: 0, tooLong: 0 };
  for (const r of raw) {
    const p = cleanPhrase(r);
    // A phrase of only punctuation is as useless as an empty one ("." after a lone newline).
    if (!/[\p{L}\p{N}]/u.test(p)) { dropped.empty++; continue; }
    if (seen.has(p)) { dropped.duplicate++; continue; }
    seen.add(p);
    if (countTokens(p) > context) { dropped.tooLong++; continue; }
    phrases.push(p);
  }
  return { phrases, dropped };
}
