/**
 * The L_gpt material of OTI, read from the phrase store: an image's pool is the phrases of its top
 * concepts, in concept order, each concept's in store order. A pool is a view: a phrase's swapped ids and
 * target are read (and tokenized) when a step draws it, and kept in a small LRU, so memory follows the
 * batch, not the vocabulary × phrases. Targets missing from the phrases (made without a model) are
 * computed once, when the store indexes that part.
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import type { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { type PhraseRange, PhraseStore } from '../../schemas/phrase-store.ts';
import type { PhraseChoice, PhraseList } from './optimize.ts';

/** Phrases held decoded at once: a batch of 32 images × 350 steps draws at most 11,200. */
export const DEFAULT_POOL_CACHE = 16384;

export class PhrasePool {
  private readonly cache = new Map<string, PhraseChoice>();
  /** phrases read from the store (cache misses) */
  reads = 0;

  constructor(private readonly store: PhraseStore, private readonly tokenizer: ClipTokenizer, private readonly ctx: number,
    private readonly maxCached = DEFAULT_POOL_CACHE) {}

  /**
   * Opens the phrase store of `dir`. `text` is asked for only when a part lacks its targets and has to
   * be indexed, so a run whose phrases carry targets never holds a text encoder for OTI.
   */
  static async load(dir: string, tokenizer: ClipTokenizer, text: () => Promise<TextEncoder>, ctx: number, dim: number,
    log?: (line: string) => void, modelHash?: string): Promise<PhrasePool> {
    const store = await PhraseStore.open(dir, { dim, encode: async (t) => (await text()).encodeTexts(t), log, modelHash });
    return new PhrasePool(store, tokenizer, ctx);
  }

  get phraseCount(): number { return this.store.phraseCount; }
  get conceptCount(): number { return this.store.conceptCount; }
  /** what the phrases were read from (OTI's batch journal keys on it) */
  get identity(): string { return this.store.identity; }

  /** The pooled phrases of `concepts` (those without phrases contribute none), read when drawn. */
  choicesFor(concepts: readonly string[]): PhraseList {
    const ranges: PhraseRange[] = concepts.flatMap((c) => this.store.ranges(c));
    const length = ranges.reduce((n, r) => n + r.count, 0);
    return {
      length,
      at: (index: number) => {
        if (!(index >= 0 && index < length)) return undefined;
        let i = index;
        for (const r of ranges) {
          if (i < r.count) return this.choice(r.part, r.start + i);
          i -= r.count;
        }
        return undefined;
      },
    };
  }

  close(): void { this.store.close(); }

  private choice(part: number, row: number): PhraseChoice {
    const key = `${part}:${row}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const c: PhraseChoice = { ids: this.tokenizer.tokenize(this.store.swapped(part, row), this.ctx), target: this.store.target(part, row) };
    this.reads++;
    this.cache.set(key, c);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
    return c;
  }
}
