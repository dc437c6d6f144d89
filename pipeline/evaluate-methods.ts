/**
 * The methods of `starword evaluate --methods`, in the order of the SEARLE talk's tables, and what
 * each needs:
 * - image, text, sum: SEARLE's baselines (no tokens);
 * - searle-oti: SEARLE's prompt with OTI tokens (--tokens);
 * - searle: SEARLE's prompt with phi's tokens (--phi); without --phi it takes --tokens, unless
 *   searle-oti is in the same table (then those tokens are that row's);
 * - pic2word: the same retrieval with Pic2Word's tokens (--pic2word-tokens: parts as `invert --mapper
 *   pic2word` writes them);
 * - lincir: SEARLE's prompt with LinCIR's tokens (--lincir: φ trained on the phrases alone, or
 *   --lincir-tokens: parts as `invert --lincir` writes them);
 * - captioning: a vision model's caption of the reference in SEARLE's prompt, `a photo of {caption}
 *   that {relative caption}` (the SEARLE paper's Captioning baseline: the caption takes the pseudo-word's
 *   place);
 * - cirevl: CIReVL, the caption recomposed with the relative caption by a chat model into a description
 *   of the target, encoded as it is.
 */
import { captionVariants, stripCaption } from '../stages/retrieve/compose.ts';

export const TABLE_METHODS = ['image', 'text', 'sum', 'searle-oti', 'searle', 'pic2word', 'lincir', 'captioning', 'cirevl'] as const;
export type TableMethod = typeof TABLE_METHODS[number];

export function isTableMethod(s: string): s is TableMethod {
  return (TABLE_METHODS as readonly string[]).includes(s);
}

/** The captioning baseline's texts: SEARLE's prompt with the caption for `$`, for each caption variant. */
export function captioningTexts(caption: string, captions: readonly string[]): string[] {
  return captionVariants(captions).map((v) => `a photo of ${stripCaption(caption)} that ${v}`);
}

/** The relative caption CIReVL sends: itself, or FashionIQ's two stripped and joined with "and" (one order, as CIReVL does). */
export function cirevlInstruction(captions: readonly string[]): string {
  return captionVariants(captions)[0];
}
