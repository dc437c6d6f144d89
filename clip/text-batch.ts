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

/**
 * `usePseudo[r]` false leaves row r's `$` as the plain token. `padTo` forces a length (SEARLE pads every
 * batch to 77; only the benchmark uses it, to measure what the cut saves).
 */
export function prepareTextBatch(rows: ArrayLike<number>[], eotId: number, usePseudo: boolean[] | boolean = false, padTo = 0): TextBatch {
  const B = rows.length;
  const eots = rows.map((r) => eotPosition(r, eotId));
  const T = Math.max(1, padTo, ...eots.map((e) => e + 1));
  const ids = new BigInt64Array(B * T);
  const pmask = new Float32Array(B * T);
  const eot = new Float32Array(B * T);
  const dollarAt = new Int32Array(B).fill(-1);
  rows.forEach((row, r) => {
    for (let t = 0; t < T; t++) ids[r * T + t] = BigInt(t < row.length ? row[t] : 0);
    eot[r * T + eots[r]] = 1;
    const pseudo = typeof usePseudo === 'boolean' ? usePseudo : usePseudo[r];
    for (let t = 0; t <= eots[r]; t++) {
      if (row[t] === PSEUDO_TOKEN_ID) { dollarAt[r] = t; if (pseudo) pmask[r * T + t] = 1; break; }
    }
  });
  return { ids, pmask, eot, batch: B, len: T, dollarAt };
}
