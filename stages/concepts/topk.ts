/**
 * Per-image top-K concepts: cosine between the L2-normalised image feature and the (already normalised)
 * vocabulary features, no softmax. Scores are rounded to float32 before ranking so the stored order is
 * exactly the order of the stored scores; ties go to the lower vocabulary index.
 *
 * Fast path: images in blocks, the vocabulary in blocks of rows that stay in cache, four images per
 * vocabulary row in the inner loop (each vocabulary value loaded once for four dot products), and a
 * bounded min-heap per image whose root is the admission threshold, so most scores cost one compare.
 */

export interface TopK {
  /** vocabulary indices, best first */
  indices: Int32Array;
  /** their cosine scores, descending */
  scores: Float32Array;
}

const IMAGE_BLOCK = 64;
/** vocabulary floats per block (256 KB): a block stays in L2 while every image block passes over it */
const VOCAB_BLOCK_FLOATS = 65536;

/** A copy of `v` scaled to unit length, in float64 (the image side of the cosine). */
export function normalizedF64(v: Float32Array, what: string): Float64Array {
  let sq = 0;
  for (let d = 0; d < v.length; d++) sq += v[d] * v[d];
  const inv = 1 / Math.sqrt(sq);
  if (!Number.isFinite(inv)) throw new Error(`${what} is zero or not finite`);
  const out = new Float64Array(v.length);
  for (let d = 0; d < v.length; d++) out[d] = v[d] * inv;
  return out;
}

/**
 * Top `k` vocabulary rows for each image. `vocab` is V×dim row-major, rows L2-normalised; `images` are
 * raw (unnormalised) features of length dim. `labels` name the images in error messages.
 */
export function topKCosine(images: readonly Float32Array[], vocab: Float32Array, dim: number, k: number,
  labels?: readonly string[]): TopK[] {
  const V = vocab.length / dim;
  if (!Number.isInteger(V)) throw new Error(`vocabulary matrix length ${vocab.length} is not a multiple of ${dim}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-k must be a positive integer, got ${k}`);
  const kk = Math.min(k, V);
  const out: TopK[] = [];
  for (let i0 = 0; i0 < images.length; i0 += IMAGE_BLOCK) {
    const block = images.slice(i0, i0 + IMAGE_BLOCK).map((f, j) => {
      const what = `image feature of ${labels?.[i0 + j] ?? `row ${i0 + j}`}`;
      if (f.length !== dim) throw new Error(`${what} has length ${f.length}, the vocabulary features ${dim}`);
      return normalizedF64(f, what);
    });
    const heaps = block.map(() => new BoundedHeap(kk));
    const vocabBlock = Math.max(8, Math.floor(VOCAB_BLOCK_FLOATS / dim));
    for (let v0 = 0; v0 < V; v0 += vocabBlock) {
      const v1 = Math.min(V, v0 + vocabBlock);
      let j = 0;
      for (; j + 4 <= block.length; j += 4) scoreQuad(block, heaps, j, vocab, dim, v0, v1);
      for (; j < block.length; j++) scoreOne(block[j], heaps[j], vocab, dim, v0, v1);
    }
    for (const h of heaps) out.push(h.sorted());
  }
  return out;
}

function scoreQuad(block: Float64Array[], heaps: BoundedHeap[], j: number, vocab: Float32Array, dim: number,
  v0: number, v1: number): void {
  const a = block[j], b = block[j + 1], c = block[j + 2], e = block[j + 3];
  const ha = heaps[j], hb = heaps[j + 1], hc = heaps[j + 2], he = heaps[j + 3];
  for (let v = v0; v < v1; v++) {
    const base = v * dim;
    let sa = 0, sb = 0, sc = 0, se = 0;
    for (let d = 0; d < dim; d++) {
      const x = vocab[base + d];
      sa += a[d] * x; sb += b[d] * x; sc += c[d] * x; se += e[d] * x;
    }
    ha.offer(Math.fround(sa), v); hb.offer(Math.fround(sb), v);
    hc.offer(Math.fround(sc), v); he.offer(Math.fround(se), v);
  }
}

function scoreOne(a: Float64Array, h: BoundedHeap, vocab: Float32Array, dim: number, v0: number, v1: number): void {
  for (let v = v0; v < v1; v++) {
    const base = v * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += a[d] * vocab[base + d];
    h.offer(Math.fround(s), v);
  }
}

/**
 * The best `cap` (score, index) pairs seen. Root = the worst kept: lowest score, and among equal
 * scores the highest index. Indices arrive in increasing order, so a newcomer that only ties the root
 * loses to it: admission is `score > root score`.
 */
class BoundedHeap {
  private readonly s: Float64Array;
  private readonly ix: Int32Array;
  private n = 0;
  constructor(private readonly cap: number) {
    this.s = new Float64Array(cap);
    this.ix = new Int32Array(cap);
  }

  offer(score: number, index: number): void {
    if (this.n < this.cap) {
      let i = this.n++;
      // sift up
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(score, index, this.s[p], this.ix[p])) break;
        this.s[i] = this.s[p]; this.ix[i] = this.ix[p]; i = p;
      }
      this.s[i] = score; this.ix[i] = index;
      return;
    }
    if (!(score > this.s[0])) return;
    // replace the root and sift down
    let i = 0;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      const r = l + 1;
      if (r < n && this.worse(this.s[r], this.ix[r], this.s[l], this.ix[l])) m = r;
      if (!this.worse(this.s[m], this.ix[m], score, index)) break;
      this.s[i] = this.s[m]; this.ix[i] = this.ix[m]; i = m;
    }
    this.s[i] = score; this.ix[i] = index;
  }

  private worse(s1: number, i1: number, s2: number, i2: number): boolean {
    return s1 < s2 || (s1 === s2 && i1 > i2);
  }

  sorted(): TopK {
    const order = Array.from({ length: this.n }, (_, i) => i)
      .sort((p, q) => this.s[q] - this.s[p] || this.ix[p] - this.ix[q]);
    return {
      indices: Int32Array.from(order, (p) => this.ix[p]),
      scores: Float32Array.from(order, (p) => this.s[p]),
    };
  }
}
