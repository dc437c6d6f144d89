/**
 * A bounded heap holding the k best (score, gallery position) pairs of one query. Better = higher score,
 * then lower gallery position (the tie rule: gallery order after equal score, as a stable sort gives).
 * The root is the worst kept entry, so a candidate is admitted by one comparison with it.
 */
export class TopK {
  readonly scores: Float64Array;
  readonly positions: Int32Array;
  readonly ids: string[];
  size = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.positions = new Int32Array(k);
    this.ids = new Array<string>(k);
  }

  /** True when (s1, p1) ranks below (s2, p2). */
  private static worse(s1: number, p1: number, s2: number, p2: number): boolean {
    return s1 < s2 || (s1 === s2 && p1 > p2);
  }

  /** Whether a candidate would enter: lets the caller skip work. */
  admits(score: number, position: number): boolean {
    if (this.size < this.k) return this.k > 0;
    return TopK.worse(this.scores[0], this.positions[0], score, position);
  }

  push(score: number, position: number, id: string): void {
    if (this.k === 0) return;
    if (this.size < this.k) {
      let i = this.size++;
      // sift up: the parent must be worse than (or equal to) the child
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopK.worse(score, position, this.scores[p], this.positions[p])) break;
        this.move(p, i);
        i = p;
      }
      this.set(i, score, position, id);
      return;
    }
    if (!TopK.worse(this.scores[0], this.positions[0], score, position)) return;
    // replace the root and sift down
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && TopK.worse(this.scores[r], this.positions[r], this.scores[l], this.positions[l])) c = r;
      if (!TopK.worse(this.scores[c], this.positions[c], score, position)) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, score, position, id);
  }

  /** Entries best first. */
  sorted(): { id: string; position: number; score: number }[] {
    const out = [];
    for (let i = 0; i < this.size; i++) out.push({ id: this.ids[i], position: this.positions[i], score: this.scores[i] });
    return out.sort((a, b) => b.score - a.score || a.position - b.position);
  }

  private move(from: number, to: number): void {
    this.scores[to] = this.scores[from]; this.positions[to] = this.positions[from]; this.ids[to] = this.ids[from];
  }
  private set(i: number, score: number, position: number, id: string): void {
    this.scores[i] = score; this.positions[i] = position; this.ids[i] = id;
  }
}
