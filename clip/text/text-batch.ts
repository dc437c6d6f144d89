/**
 * Host-side preparation of one text tower's inputs: ids cut at the batch's longest EOT, the pseudo-token
 * mask at each row's first `$`, and the EOT one-hot. Exact for a causal encoder read at the EOT.
 */
export const PSEUDO_TOKEN_ID = 259;

export interface TextBatch {
  ids: BigInt64Array;   // [B, T]
  pmask: Float32Array;  // [B, T, 1]
  eot: Float32Array;    // [B, 1, T]
  batch: number;
  len: number;
  /** per row: index of the first `$`, or −1 */
  dollarAt: Int32Array;
}

/** Position of the EOT: the first `eotId`, else the row's largest id (OpenAI vocabularies' rule). */
export function eotPosition(row: ArrayLike<number>, eotId: number): number {
  let argmax = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i] === eotId) return i;
    if (row[i] > row[argmax]) argmax = i;
  }
  return argmax;
}

/** Index of the row's first `$` before its EOT, or −1. */
export function dollarPosition(row: ArrayLike<number>, eotAt: number): number {
  for (let t = 0; t <= eotAt; t++) if (row[t] === PSEUDO_TOKEN_ID) return t;
  return -1;
}

/**
 * The longest prefix that every row shares the *cacheability* of: positions before each row's first `$`
 * (or its EOT) do not depend on v*, so the first P = min over rows of those positions can come from the
 * prefix cache.
 */
export function cacheablePrefix(rows: ArrayLike<number>[], eotId: number): number {
  let p = Infinity;
  for (const row of rows) {
    const e = eotPosition(row, eotId);
    const d = dollarPosition(row, e);
    p = Math.min(p, d >= 0 ? d : e);
  }
  return Number.isFinite(p) ? p : 0;
}

/**
 * `usePseudo[r]` false leaves row r's `$` as the plain token. `padTo` forces a length (SEARLE pads every
 * batch to 77; only the benchmark uses it, to measure what the cut saves). `start` > 0 leaves out the
 * first `start` positions (they come from the prefix cache): ids, pmask and eot then cover
 * start..T−1, and `len` is T − start.
 */
export function prepareTextBatch(rows: ArrayLike<number>[], eotId: number, usePseudo: boolean[] | boolean = false, padTo = 0,
  start = 0): TextBatch {
  const B = rows.length;
  const eots = rows.map((r) => eotPosition(r, eotId));
  const T = Math.max(1, padTo, ...eots.map((e) => e + 1)) - start;
  const ids = new BigInt64Array(B * T);
  const pmask = new Float32Array(B * T);
  const eot = new Float32Array(B * T);
  const dollarAt = new Int32Array(B).fill(-1);
  rows.forEach((row, r) => {
    if (eots[r] < start) throw new Error(`row ${r}: EOT at ${eots[r]} lies inside the cached prefix of ${start}`);
    for (let t = 0; t < T; t++) ids[r * T + t] = BigInt(start + t < row.length ? row[start + t] : 0);
    eot[r * T + eots[r] - start] = 1;
    const pseudo = typeof usePseudo === 'boolean' ? usePseudo : usePseudo[r];
    dollarAt[r] = dollarPosition(row, eots[r]);
    if (pseudo && dollarAt[r] >= 0) {
      if (dollarAt[r] < start) throw new Error(`row ${r}: \$ at ${dollarAt[r]} lies inside the cached prefix of ${start}`);
      pmask[r * T + dollarAt[r] - start] = 1;
    }
  });
  return { ids, pmask, eot, batch: B, len: T, dollarAt };
}
