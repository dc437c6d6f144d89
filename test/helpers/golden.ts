/**
 * The tiny-clip golden fixture: test/fixtures/tiny-clip/golden.json, made by make_golden.py beside it (an
 * independent float64 PyTorch computation, rerun by hand, not by the tests).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { testCacheDir } from './test-utils.ts';

export const TINY_MODEL_DIR = fileURLToPath(new URL('../fixtures/tiny-clip/model', import.meta.url));
export const TINY_IMAGE = fileURLToPath(new URL('../fixtures/tiny-clip/image.png', import.meta.url));

/** The golden.json version these tests are written for (make_golden.py's GOLDEN_VERSION). */
const GOLDEN_VERSION = 1;

let cached: any;
/** golden.json, parsed once per test process. */
export function golden(): any {
  if (cached === undefined) {
    const path = fileURLToPath(new URL('../fixtures/tiny-clip/golden.json', import.meta.url));
    const g = JSON.parse(readFileSync(path, 'utf8'));
    if (g.version !== GOLDEN_VERSION) throw new Error(`${path} is version ${g.version}, the tests expect ${GOLDEN_VERSION}: rerun make_golden.py beside it`);
    cached = g;
  }
  return cached;
}

/** The graph cache of this test process (test-utils.ts), so tests never read or write the user's cache. */
export { testCacheDir };

/** max |a − b| / max |b|: the "relative" measure. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let md = 0, mx = 0;
  for (let i = 0; i < a.length; i++) {
    md = Math.max(md, Math.abs(a[i] - b[i]));
    mx = Math.max(mx, Math.abs(b[i]));
  }
  return md / mx;
}

export function flat(rows: ArrayLike<number>[]): Float32Array {
  const n = rows.reduce((s, r) => s + r.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const r of rows) { out.set(Array.from(r), o); o += r.length; }
  return out;
}

/** The exact-GELU golden fixture (test/fixtures/tiny-clip-gelu, made by its make_golden.py). */
export const GELU_MODEL_DIR = fileURLToPath(new URL('../fixtures/tiny-clip-gelu/model', import.meta.url));

let cachedGelu: any;
/** tiny-clip-gelu/golden.json, parsed once per test process. */
export function geluGolden(): any {
  cachedGelu ??= JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/tiny-clip-gelu/golden.json', import.meta.url)), 'utf8'));
  return cachedGelu;
}

/** max |a − b| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let md = 0;
  for (let i = 0; i < a.length; i++) md = Math.max(md, Math.abs(a[i] - b[i]));
  return md;
}
