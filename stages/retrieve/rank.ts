/**
 * Exact top-k retrieval by inner product over a gallery streamed in blocks. Each block's rows are
 * L2-normalised into a reusable buffer and scored against every query (queries in small tiles so a
 * tile stays in cache while the block streams past); each query keeps a bounded heap. Memory: the
 * queries, the heaps and one block, whatever the gallery's size.
 *
 * Ties: equal scores rank in gallery order (a stable sort of the full score row gives the same list).
 * Excluded ids (the reference image) never enter a query's list. Watched ids (CIRR's subset members)
 * have their scores recorded whatever their rank.
 */
import { UserError } from '../../util/errors.ts';
import type { GallerySource } from './gallery.ts';
import { TopK } from './topk-heap.ts';
import { dot4Queries, dotSeq, normalizeInPlace } from './vectors.ts';

export interface Hit { id: string; /** gallery position */ position: number; score: number }

export interface QueryRanking {
  /** the best `k` gallery rows, best first */
  hits: Hit[];
  /** scores of the watched ids found in the gallery */
  watched: Map<string, Hit>;
}

export interface RankOptions {
  k: number;
  /** gallery rows per block (default 8192) */
  blockRows?: number;
  /** queries scored together against each row while a block is in cache (default 16) */
  queryTile?: number;
  /** per query: gallery ids that may not appear in its list */
  exclude?: (readonly string[] | undefined)[];
  /** per query: gallery ids whose scores to record */
  watch?: (readonly string[] | undefined)[];
  /** per query: skip it (no hits), e.g. a query that could not be formed */
  skip?: boolean[];
}

export interface RankResult { rankings: QueryRanking[]; gallerySize: number; dim: number }

function invert(lists: (readonly string[] | undefined)[] | undefined): Map<string, number[]> {
  const out = new Map<string, number[]>();
  lists?.forEach((ids, q) => {
    for (const id of ids ?? []) {
      const qs = out.get(id);
      if (qs) { if (qs[qs.length - 1] !== q) qs.push(q); } else out.set(id, [q]);
    }
  });
  return out;
}

/** Ranks the gallery for each query. Query features need not be normalised (they are, on a copy). */
export async function rankGallery(queries: Float32Array[], gallery: GallerySource, opts: RankOptions): Promise<RankResult> {
  const k = Math.max(0, Math.floor(opts.k));
  const blockRows = opts.blockRows ?? 8192;
  const tile = opts.queryTile ?? 16;
  const nq = queries.length;
  const dim = nq > 0 ? queries[0].length : 0;
  const q = new Float32Array(nq * dim);
  queries.forEach((v, i) => {
    if (v.length !== dim) throw new UserError(`query ${i} has ${v.length} dims, expected ${dim}`);
    q.set(v, i * dim);
    normalizeInPlace(q, i * dim, dim);
  });
  const skip = opts.skip ?? [];
  const active: number[] = [];
  for (let i = 0; i < nq; i++) if (!skip[i]) active.push(i);
  const heaps = queries.map(() => new TopK(k));
  const watched = queries.map(() => new Map<string, Hit>());
  const excludedBy = invert(opts.exclude);
  const watchedBy = invert(opts.watch);
  let buf = new Float32Array(0);
  let gallerySize = 0;
  let galleryDim = -1;

  for await (const block of gallery.blocks(blockRows)) {
    const rows = block.ids.length;
    if (galleryDim < 0) galleryDim = block.dim;
    if (nq > 0 && block.dim !== dim) throw new UserError(`gallery features have ${block.dim} dims but the queries ${dim}: different models?`);
    if (buf.length < rows * block.dim) buf = new Float32Array(rows * block.dim);
    buf.set(block.vectors.subarray(0, rows * block.dim));
    for (let r = 0; r < rows; r++) normalizeInPlace(buf, r * dim, dim);

    // Rows some query excludes: row → those queries.
    const excludedRows = new Map<number, number[]>();
    for (let r = 0; r < rows; r++) {
      const ex = excludedBy.get(block.ids[r]);
      if (ex) excludedRows.set(r, ex);
      const w = watchedBy.get(block.ids[r]);
      if (w) for (const qi of w) {
        if (skip[qi]) continue;
        const s = dotSeq(q, qi * dim, buf, r * dim, dim);
        if (!watched[qi].has(block.ids[r])) watched[qi].set(block.ids[r], { id: block.ids[r], position: block.start + r, score: s });
      }
    }

    if (k > 0) {
      const sums = new Float64Array(4);
      const take = (qi: number, r: number, s: number): void => {
        const ex = excludedRows.get(r);
        if (ex !== undefined && ex.includes(qi)) return;
        const h = heaps[qi];
        if (h.admits(s, block.start + r)) h.push(s, block.start + r, block.ids[r]);
      };
      for (let t0 = 0; t0 < active.length; t0 += tile) {
        const t1 = Math.min(t0 + tile, active.length);
        const t4 = t0 + ((t1 - t0) & ~3);
        for (let r = 0; r < rows; r++) {
          const rowOff = r * dim;
          // four queries per pass over the row, then the remainder one by one
          for (let t = t0; t < t4; t += 4) {
            const a = active[t], b = active[t + 1], c = active[t + 2], d = active[t + 3];
            dot4Queries(q, a * dim, b * dim, c * dim, d * dim, buf, rowOff, dim, sums);
            take(a, r, sums[0]); take(b, r, sums[1]); take(c, r, sums[2]); take(d, r, sums[3]);
          }
          for (let t = t4; t < t1; t++) take(active[t], r, dotSeq(q, active[t] * dim, buf, rowOff, dim));
        }
      }
    }
    gallerySize += rows;
  }

  const rankings = heaps.map((h, i) => ({ hits: skip[i] ? [] : h.sorted(), watched: watched[i] }));
  return { rankings, gallerySize, dim: galleryDim < 0 ? dim : galleryDim };
}

/** Brute force over an in-memory gallery: full scores, stable sort. The reference the tests hold rankGallery to. */
export function rankBruteForce(query: Float32Array, ids: string[], vectors: Float32Array, dim: number, k: number,
  exclude: readonly string[] = []): Hit[] {
  const qn = normalizeInPlace(Float32Array.from(query));
  const row = new Float32Array(dim);
  const all: Hit[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (exclude.includes(ids[i])) continue;
    row.set(vectors.subarray(i * dim, (i + 1) * dim));
    normalizeInPlace(row);
    all.push({ id: ids[i], position: i, score: dotSeq(qn, 0, row, 0, dim) });
  }
  // Array.prototype.sort is stable: equal scores keep gallery order.
  return all.sort((a, b) => b.score - a.score).slice(0, k);
}
