/**
 * The L_gpt material of OTI: every kept phrase of the phrases stage, indexed by concept, each with its
 * swapped ids (tokenized once, on first use) and its target text(phrase) (read from the part, or
 * computed once through the text encoder when the phrases were made without a model).
 */
import { existsSync } from 'node:fs';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import type { ClipTokenizer } from '../../clip/tokenizer.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';
import type { PhraseChoice } from './optimize.ts';

interface StoredPhrase { phrase: string; swapped: string; target: Float32Array | null; choice?: PhraseChoice }

export class PhrasePool {
  private readonly byConcept = new Map<string, StoredPhrase[]>();
  phraseCount = 0;

  /**
   * `text` is asked for only when some phrase lacks its target (phrases made without a model), so a
   * run whose phrases carry targets never holds a text encoder for OTI; `dim` is the model's feature dim.
   */
  constructor(private readonly tokenizer: ClipTokenizer, private readonly text: () => Promise<TextEncoder>, private readonly ctx: number) {}

  /** Loads every done phrases part of `dir`. */
  static load(dir: string, tokenizer: ClipTokenizer, text: () => Promise<TextEncoder>, ctx: number, dim: number): PhrasePool {
    const pool = new PhrasePool(tokenizer, text, ctx);
    if (!existsSync(dir)) throw new UserError(`no phrases in ${dir}: run the phrases stage first`);
    const parts = listDoneParts(dir, phrasesSchema.KIND);
    if (!parts.length) throw new UserError(`no finished phrases parts in ${dir}: run the phrases stage first`);
    for (const index of parts) {
      const part = phrasesSchema.fromTable(readPart(dir, phrasesSchema.KIND, index));
      if (part.targets && part.targets.dim !== dim) {
        throw new UserError(`phrases in ${dir} carry ${part.targets.dim}-d targets, the model's features are ${dim}-d: made with another model`);
      }
      part.rows.forEach((row, i) => pool.add(row.concept, row.phrase, row.swapped, part.targets?.rows[i] ?? null));
    }
    return pool;
  }

  add(concept: string, phrase: string, swapped: string, target: Float32Array | null): void {
    let list = this.byConcept.get(concept);
    if (!list) this.byConcept.set(concept, (list = []));
    list.push({ phrase, swapped, target });
    this.phraseCount++;
  }

  get conceptCount(): number { return this.byConcept.size; }

  /** The pooled phrases of `concepts` (those without phrases contribute none), ready for OTI. */
  async choicesFor(concepts: readonly string[]): Promise<PhraseChoice[]> {
    const stored: StoredPhrase[] = [];
    for (const c of concepts) stored.push(...(this.byConcept.get(c) ?? []));
    const missing = stored.filter((s) => !s.choice && !s.target);
    if (missing.length) {
      const feats = await (await this.text()).encodeTexts(missing.map((s) => s.phrase));
      missing.forEach((s, i) => { s.target = feats[i]; });
    }
    return stored.map((s) => {
      s.choice ??= { ids: this.tokenizer.tokenize(s.swapped, this.ctx), target: s.target! };
      return s.choice;
    });
  }
}
