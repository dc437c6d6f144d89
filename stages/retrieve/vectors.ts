/** Small dense-vector kernels for ranking: plain loops over Float32Array, unrolled by 4 for speed. */

/** Dot product of a[aOff..aOff+n) and b[bOff..bOff+n). */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  const n4 = n - (n % 4);
  for (; i < n4; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < n; i++) s0 += a[aOff + i] * b[bOff + i];
  return (s0 + s1) + (s2 + s3);
}

/** Euclidean norm of v[off..off+n). */
export function norm(v: Float32Array, off = 0, n = v.length - off): number {
  return Math.sqrt(dot(v, off, v, off, n));
}

/**
 * L2-normalises v[off..off+n) in place. A zero row stays zero (F.normalize's eps behaviour), so it
 * scores 0 against everything instead of NaN.
 */
export function normalizeInPlace(v: Float32Array, off = 0, n = v.length - off): Float32Array {
  const len = norm(v, off, n);
  const inv = 1 / Math.max(len, 1e-12);
  for (let i = 0; i < n; i++) v[off + i] *= inv;
  return v;
}

/** A normalised copy. */
export function normalized(v: Float32Array): Float32Array {
  return normalizeInPlace(Float32Array.from(v));
}

/** Normalises each `dim`-long row of a packed row-major matrix in place. */
export function normalizeRows(m: Float32Array, dim: number): Float32Array {
  for (let off = 0; off + dim <= m.length; off += dim) normalizeInPlace(m, off, dim);
  return m;
}

/** Packs equal-length vectors into one row-major Float32Array. */
export function packRows(rows: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new Error(`row ${i} has length ${r.length}, expected ${dim}`);
    out.set(r, i * dim);
  });
  return out;
}
