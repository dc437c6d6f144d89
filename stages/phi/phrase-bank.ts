/**
 * The L_gpt material of phi training, read from the phrase store: the phrases of each concept, swapped
 * SEARLE's phi way — EVERY occurrence of the concept replaced by " $ " (only the first `$` then carries
 * phi's token), under the swap mode the phrase's part was made with (`swapAllFor`: SEARLE's
 * case-sensitive `phrase.replace(concept, " $ ")`, or the word rules a chat part was kept by) — with
 * their targets text(original phrase). A draw reads
 * its phrase's text, and the batch's targets are read when the batch is made, so an epoch holds one
 * batch of phrases whatever the vocabulary and phrases per concept.
 */
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { SWAP_MODES, type SwapMode, swapAllFor } from '../../clip/text/pseudo-word-swap.ts';
import { PhraseStore } from '../../schemas/phrase-store.ts';
import type { Rng } from '../../util/rng.ts';

export interface PhiPhrase {
  concept: string;
  phrase: string;
  target: Float32Array | null;
  ids: Int32Array | null;
  /** where the phrase lives in the store */
  ref?: { part: number; row: number };
}

/** What the trainer needs from the bank (tests may pass a stand-in). */
export interface PhraseDrawer {
  /** the concepts of `concepts` that have phrases, in order */
  usable(concepts: readonly string[]): string[];
  /** one phrase of a concept that has some */
  pick(concept: string, rng: Rng): PhiPhrase;
  /** ids (with `$`) and target of each phrase, computing what is missing */
  prepare(phrases: PhiPhrase[]): Promise<{ ids: Int32Array[]; targets: Float32Array[] }>;
}

export class PhiPhraseBank implements PhraseDrawer {
  /** phrases and concepts the run's images can draw (for the log) */
  phraseCount = 0;
  conceptCount = 0;

  constructor(private readonly store: PhraseStore, private readonly tokenize: (text: string) => Int32Array) {}

  /**
   * Opens the phrase store of `dir`; `wanted` (the concepts the training images can draw) only sizes
   * the log line. `text` computes targets of phrases stored without them, once, when a part is indexed;
   * `modelHash` (the model `text` runs) refuses phrases embedded by another model.
   */
  static async load(dir: string, wanted: Set<string>, tokenize: (text: string) => Int32Array, text: TextEncoder,
    log?: (line: string) => void, modelHash?: string): Promise<PhiPhraseBank> {
    const store = await PhraseStore.open(dir, { dim: text.dim, encode: (t) => text.encodeTexts(t), log, modelHash });
    const bank = new PhiPhraseBank(store, tokenize);
    for (const c of wanted) {
      const n = store.count(c);
      if (n > 0) { bank.conceptCount++; bank.phraseCount += n; }
    }
    return bank;
  }

  usable(concepts: readonly string[]): string[] {
    // the list itself when every concept has phrases (the usual case): 100k images × 150 names are not copied
    if (concepts.every((c) => this.store.count(c) > 0) && Array.isArray(concepts)) return concepts as string[];
    return concepts.filter((c) => this.store.count(c) > 0);
  }

  pick(concept: string, rng: Rng): PhiPhrase {
    const n = this.store.count(concept);
    if (!n) throw new Error(`no phrases for concept '${concept}'`);
    let i = rng.int(n);
    for (const r of this.store.ranges(concept)) {
      if (i < r.count) {
        const ref = { part: r.part, row: r.start + i };
        return { concept, phrase: this.store.phrase(ref.part, ref.row), target: null, ids: null, ref };
      }
      i -= r.count;
    }
    throw new Error(`phrase store: concept '${concept}' has fewer phrases than it counts`);
  }

  async prepare(phrases: PhiPhrase[]): Promise<{ ids: Int32Array[]; targets: Float32Array[] }> {
    for (const p of phrases) {
      if (!p.target) {
        if (!p.ref) throw new Error(`phrase '${p.phrase}' has neither a target nor a place in the store`);
        p.target = this.store.target(p.ref.part, p.ref.row);
      }
      // a phrase given without a place in the store is SEARLE's (tests, stand-ins)
      p.ids ??= this.tokenize(swapAllFor(p.ref ? this.partMode(p.ref.part) : 'searle')(p.phrase, p.concept));
    }
    return { ids: phrases.map((p) => p.ids!), targets: phrases.map((p) => p.target!) };
  }

  private partMode(part: number): SwapMode {
    const mode = this.store.swapMode(part);
    if (!SWAP_MODES.includes(mode as SwapMode)) throw new Error(`phrases part ${part} of ${this.store.dir} was made with swap mode '${mode}', which this starword does not know`);
    return mode as SwapMode;
  }

  /** every phrase the store holds, whether the run's images draw its concept or not */
  get storedPhrases(): number { return this.store.phraseCount; }

  close(): void { this.store.close(); }
}
