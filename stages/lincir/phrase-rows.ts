/**
 * LinCIR's training material read row by row from phrase stores (schemas/phrase-store.ts: a run's
 * phrases, a caption file's store, or both, rows numbered across them): each row
 * is a phrase whose concept the phrases stage swapped for `$` (SEARLE's swap: the first occurrence),
 * and its stored target, the unnormalised CLIP text feature of the original phrase.
 *
 * Order without a table of the phrases: a keyed Feistel permutation of [0, N) (cycle-walking over the
 * next power of two) maps a position to a row, so memory does not grow with the phrases — no shuffled
 * index array, no copy of the texts or targets. The first `held` positions of a split permutation are
 * the held-out rows; the training rows are the rest, visited in a fresh permutation every pass. Batch
 * `s` is a function of the step alone, so a resumed run reads what an unbroken one would.
 */
import type { PhraseStore } from '../../schemas/phrase-store.ts';
import { Rng } from '../../util/rng.ts';

/** A bijection of [0, n) keyed by a seed (4-round Feistel over 2^k ≥ n, cycle-walking). */
export class KeyedPermutation {
  private readonly half: number;
  private readonly mask: number;
  private readonly keys: number[];

  constructor(readonly n: number, seed: string) {
    let bits = 2;
    while (2 ** bits < n) bits++;
    if (bits % 2) bits++;
    this.half = bits / 2;
    this.mask = 2 ** this.half - 1;
    const rng = new Rng(seed);
    this.keys = [0, 1, 2, 3].map(() => rng.nextUint32());
  }

  private round(x: number, key: number): number {
    let h = Math.imul(x ^ key, 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return (h >>> 0) & this.mask;
  }

  private once(x: number): number {
    let l = Math.floor(x / 2 ** this.half), r = x & this.mask;
    for (const k of this.keys) { const t = r; r = (l ^ this.round(r, k)) & this.mask; l = t; }
    return l * 2 ** this.half + r;
  }

  at(i: number): number {
    if (!(i >= 0 && i < this.n)) throw new RangeError(`permutation index ${i} outside [0, ${this.n})`);
    let x = this.once(i);
    while (x >= this.n) x = this.once(x);
    return x;
  }
}

export interface PhraseRow {
  /** the row's global number in the store (parts in order) */
  id: number;
  /** the phrase with `$` for its concept (the masked text) */
  swapped: string;
  /** unnormalised text(original phrase) */
  target: Float32Array;
}

export class PhraseRows {
  private readonly starts: number[] = [];
  /** every part of every store, in order: rows are numbered across them (a run's phrases, then a caption file's) */
  private readonly parts: { store: PhraseStore; part: number }[] = [];
  private readonly split: KeyedPermutation;
  private readonly passes = new Map<number, KeyedPermutation>();
  readonly total: number;
  readonly held: number;
  readonly train: number;

  constructor(stores: PhraseStore | readonly PhraseStore[], heldOut: number, private readonly seed: number) {
    let at = 0;
    for (const store of Array.isArray(stores) ? stores : [stores]) {
      for (const p of store.parts) {
        if (p.rows === 0) continue;
        this.starts.push(at); this.parts.push({ store, part: p.part }); at += p.rows;
      }
    }
    this.total = at;
    this.held = Math.min(heldOut, Math.max(0, at - 1));
    this.train = at - this.held;
    this.split = new KeyedPermutation(Math.max(1, at), `${seed}:lincir-split`);
  }

  /** The store's (part, row) of global row `g`. */
  private locate(g: number): { store: PhraseStore; part: number; row: number } {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= g) lo = mid; else hi = mid - 1;
    }
    return { ...this.parts[lo], row: g - this.starts[lo] };
  }

  private read(g: number): PhraseRow {
    const { store, part, row } = this.locate(g);
    return { id: g, swapped: store.swapped(part, row), target: store.target(part, row) };
  }

  /** Held-out row `i` (0 ≤ i < held). */
  heldOut(i: number): PhraseRow { return this.read(this.split.at(i)); }

  /** The rows of training step `step` (0-based), `batch` of them. */
  batch(step: number, batch: number): PhraseRow[] {
    const out: PhraseRow[] = [];
    for (let p = step * batch; p < (step + 1) * batch; p++) {
      const pass = Math.floor(p / this.train), j = p % this.train;
      let perm = this.passes.get(pass);
      if (!perm) {
        if (this.passes.size > 2) this.passes.clear();
        this.passes.set(pass, (perm = new KeyedPermutation(this.train, `${this.seed}:lincir-pass:${pass}`)));
      }
      out.push(this.read(this.split.at(this.held + perm.at(j))));
    }
    return out;
  }
}
