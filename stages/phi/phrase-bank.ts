/**
 * The L_gpt material of phi training: the phrases of each concept, swapped SEARLE's phi way — EVERY
 * occurrence of the concept replaced by " $ " (`phrase.replace(concept, " $ ")`; only the first `$` then
 * carries phi's token) — tokenized once on first use, with their targets text(original phrase) read
 * from the phrases part or computed once through the text encoder.
 * Only concepts some training image can draw are kept, so memory follows the run, not the vocabulary.
 */
import { existsSync } from 'node:fs';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';
import type { Rng } from '../../util/rng.ts';

export interface PhiPhrase {
  concept: string;
  phrase: string;
  target: Float32Array | null;
  ids: Int32Array | null;
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

/** SEARLE's phi swap: every occurrence, case-sensitive. */
export function swapAll(phrase: string, concept: string): string {
  return concept ? phrase.split(concept).join(' $ ') : phrase;
}

export class PhiPhraseBank implements PhraseDrawer {
  private readonly byConcept = new Map<string, PhiPhrase[]>();
  phraseCount = 0;

  constructor(private readonly tokenize: (text: string) => Int32Array, private readonly text: TextEncoder) {}

  /** Loads the done phrases parts of `dir`, keeping the concepts in `wanted`. */
  static load(dir: string, wanted: Set<string>, tokenize: (text: string) => Int32Array, text: TextEncoder): PhiPhraseBank {
    const bank = new PhiPhraseBank(tokenize, text);
    const parts = existsSync(dir) ? listDoneParts(dir, phrasesSchema.KIND) : [];
    if (!parts.length) throw new UserError(`no finished phrases parts in ${dir}: run the phrases stage first (or train with --lambda-gpt 0)`);
    for (const index of parts) {
      const part = phrasesSchema.fromTable(readPart(dir, phrasesSchema.KIND, index));
      if (part.targets && part.targets.dim !== text.dim) {
        throw new UserError(`phrases in ${dir} carry ${part.targets.dim}-d targets, the model's features are ${text.dim}-d: made with another model`);
      }
      part.rows.forEach((row, i) => {
        if (wanted.has(row.concept)) bank.add(row.concept, row.phrase, part.targets?.rows[i] ?? null);
      });
    }
    return bank;
  }

  add(concept: string, phrase: string, target: Float32Array | null): void {
    let list = this.byConcept.get(concept);
    if (!list) this.byConcept.set(concept, (list = []));
    list.push({ concept, phrase, target, ids: null });
    this.phraseCount++;
  }

  get conceptCount(): number { return this.byConcept.size; }

  usable(concepts: readonly string[]): string[] {
    return concepts.filter((c) => this.byConcept.has(c));
  }

  pick(concept: string, rng: Rng): PhiPhrase {
    const list = this.byConcept.get(concept);
    if (!list) throw new Error(`no phrases for concept '${concept}'`);
    return list[rng.int(list.length)];
  }

  async prepare(phrases: PhiPhrase[]): Promise<{ ids: Int32Array[]; targets: Float32Array[] }> {
    const missing = [...new Set(phrases.filter((p) => !p.target))];
    if (missing.length) {
      const feats = await this.text.encodeTexts(missing.map((p) => p.phrase));
      missing.forEach((p, i) => { p.target = feats[i]; });
    }
    for (const p of phrases) p.ids ??= this.tokenize(swapAll(p.phrase, p.concept));
    return { ids: phrases.map((p) => p.ids!), targets: phrases.map((p) => p.target!) };
  }
}
