/**
 * Query features of the four retrieval methods of SEARLE's result table:
 * - searle: CLIP text feature of `a photo of $ that {caption}` with the reference's pseudo-token in `$`;
 * - image:  the reference image's feature (the caption ignored);
 * - text:   the caption's text feature (the reference ignored);
 * - sum:    normalised image feature + normalised text feature, re-normalised.
 * FashionIQ queries carry two captions; as SEARLE's validate.py does, each is stripped of '.?, ' at both
 * ends, they are joined `{c1} and {c2}` and `{c2} and {c1}`, each order is prompted and encoded, and the
 * two normalised features are averaged and re-normalised. The text and sum baselines use the same two
 * joins without the prompt. Every returned feature is L2-normalised.
 *
 * Pic2Word (method `pic2word`, outside SEARLE's table) composes as its authors' src/data.py does:
 * `a photo of $ , {caption}` (CIRR; CIRCO likewise), and for FashionIQ's two captions the single
 * unstripped join `a photo of $ , {c2} and {c1}`; its `$` holds f_M's token.
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { UserError } from '../../util/errors.ts';
import { normalizeInPlace, normalized } from './vectors.ts';

export const METHODS = ['searle', 'image', 'text', 'sum'] as const;
export type Method = typeof METHODS[number];

export function isMethod(s: string): s is Method {
  return (METHODS as readonly string[]).includes(s);
}

/** Every method composeQueries knows: SEARLE's table and Pic2Word. */
export const COMPOSE_METHODS = [...METHODS, 'pic2word'] as const;
export type ComposeMethod = typeof COMPOSE_METHODS[number];

export function isComposeMethod(s: string): s is ComposeMethod {
  return (COMPOSE_METHODS as readonly string[]).includes(s);
}

/** Pic2Word's retrieval prompt (the authors' `a photo of * , {caption}`, `$` for `*`). */
export function pic2wordPrompt(caption: string): string {
  return `a photo of $ , ${caption}`;
}

/** SEARLE's retrieval prompt. */
export function searlePrompt(caption: string): string {
  return `a photo of $ that ${caption}`;
}

/** Python's str.strip('.?, '): drop those characters from both ends. */
export function stripCaption(c: string): string {
  return c.replace(/^[.?, ]+/, '').replace(/[.?, ]+$/, '');
}

/** The caption variants of a query: itself for one caption, both join orders for FashionIQ's two. */
export function captionVariants(captions: readonly string[]): string[] {
  if (captions.length === 1) return [captions[0]];
  if (captions.length === 2) {
    const [a, b] = captions.map(stripCaption);
    return [`${a} and ${b}`, `${b} and ${a}`];
  }
  throw new UserError(`a query needs one or two captions, got ${captions.length}`);
}

export interface ComposeInput {
  captions: readonly string[];
  /** the reference's pseudo-token (searle) */
  token?: Float32Array | null;
  /** the reference's image feature, raw or normalised (image, sum) */
  image?: Float32Array | null;
}

export interface ComposeOptions {
  /** needed by searle, text and sum */
  text?: TextEncoder;
  /** texts per encodeTexts call (default 256) */
  batch?: number;
}

/** What a method needs of each query's reference. */
export function methodNeeds(method: ComposeMethod): { token: boolean; image: boolean; text: boolean } {
  return { token: method === 'searle' || method === 'pic2word', image: method === 'image' || method === 'sum', text: method !== 'image' };
}

/** The prompted texts of a query for a token method (a `$` in each). */
function promptedVariants(method: ComposeMethod, captions: readonly string[]): string[] {
  if (method === 'pic2word') {
    // the authors join FashionIQ's captions once, second first, as they come
    if (captions.length === 2) return [pic2wordPrompt(`${captions[1]} and ${captions[0]}`)];
    return captionVariants(captions).map(pic2wordPrompt);
  }
  return captionVariants(captions).map(searlePrompt);
}

/**
 * One normalised feature per query, or null where the query lacks what the method needs (no token or
 * no reference feature): the caller counts such a query as a miss.
 */
export async function composeQueries(method: ComposeMethod, inputs: readonly ComposeInput[], opts: ComposeOptions = {}): Promise<(Float32Array | null)[]> {
  const needs = methodNeeds(method);
  const usable = inputs.map((q) => (!needs.token || !!q.token) && (!needs.image || !!q.image));
  let textFeatures: (Float32Array | null)[] = inputs.map(() => null);
  if (needs.text) {
    if (!opts.text) throw new UserError(`method '${method}' needs a text encoder`);
    textFeatures = await encodeVariants(opts.text, inputs, usable, needs.token ? method : null, opts.batch ?? 256);
  }
  return inputs.map((q, i) => {
    if (!usable[i]) return null;
    if (needs.token || method === 'text') return textFeatures[i];
    const img = normalized(q.image as Float32Array);
    if (method === 'image') return img;
    const t = textFeatures[i] as Float32Array;
    if (t.length !== img.length) throw new UserError(`image features have ${img.length} dims, text features ${t.length}`);
    const out = new Float32Array(img.length);
    for (let j = 0; j < out.length; j++) out[j] = img[j] + t[j];
    return normalizeInPlace(out);
  });
}

/** Encodes every variant of every usable query in batches; averages each query's normalised variants. */
async function encodeVariants(enc: TextEncoder, inputs: readonly ComposeInput[], usable: boolean[], tokenMethod: ComposeMethod | null,
  batch: number): Promise<(Float32Array | null)[]> {
  const sets = inputs.map((q, i) => (usable[i] ? (tokenMethod ? promptedVariants(tokenMethod, q.captions) : captionVariants(q.captions)) : null));
  const pseudo = tokenMethod ? inputs.map((q) => q.token ?? null) : undefined;
  return encodeTextSets(enc, sets, batch, pseudo);
}

/**
 * One feature per set of texts: each text encoded (in batches of `batch`), normalised, and the set's
 * features averaged and re-normalised; null for a null set. `pseudo[i]` fills `$` in every text of set i.
 * Also what the captioning baseline and CIReVL retrieve with (their texts come from a language model).
 */
export async function encodeTextSets(enc: TextEncoder, sets: readonly (readonly string[] | null)[], batch = 256,
  pseudo?: readonly (Float32Array | null)[]): Promise<(Float32Array | null)[]> {
  const texts: string[] = [];
  const tokens: (Float32Array | null)[] = [];
  const owner: number[] = [];
  sets.forEach((set, i) => {
    for (const t of set ?? []) { texts.push(t); tokens.push(pseudo?.[i] ?? null); owner.push(i); }
  });
  const sums: (Float32Array | null)[] = sets.map(() => null);
  for (let s = 0; s < texts.length; s += batch) {
    const e = Math.min(s + batch, texts.length);
    const feats = await enc.encodeTexts(texts.slice(s, e), pseudo ? tokens.slice(s, e) : undefined);
    if (feats.length !== e - s) throw new Error(`text encoder returned ${feats.length} features for ${e - s} texts`);
    feats.forEach((f, j) => {
      const i = owner[s + j];
      const n = normalized(f);
      const acc = sums[i];
      if (!acc) sums[i] = n;
      else for (let d = 0; d < acc.length; d++) acc[d] += n[d];
    });
  }
  // Mean of the normalised variants, re-normalised (the 1/2 of SEARLE's mean does not change the direction).
  return sums.map((v) => (v ? normalizeInPlace(v) : null));
}
