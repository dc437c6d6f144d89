/**
 * IEEE binary16 (F16) and bfloat16 (BF16) ↔ float32, exactly: round to nearest, ties to even, subnormals
 * kept. safetensors checkpoints are often stored in either.
 */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits → number (subnormals, inf and NaN included). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** float32 → binary16 bits, round to nearest, ties to even; subnormals kept; overflow → ±inf. */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000, exp = (bits >>> 23) & 0xff, mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value / 2^-24, i.e. the 24-bit significand shifted right by 14 − e.
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to zero
    const sig = mant | 0x800000, shift = 14 - e;
    let half = sig >>> shift;
    const rem = sig & ((1 << shift) - 1), halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // a carry into the exponent is still right (up to inf)
  return sign | half;
}

/** float32 → bfloat16 bits: the top 16 bits, rounded to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0];
}

let f16Table: Float32Array | null = null;

export function f16BytesToF32(raw: Uint8Array): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  const table = f16Table;
  const src = halfView(raw), out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

export function bf16BytesToF32(raw: Uint8Array): Float32Array {
  const src = halfView(raw), out = new Float32Array(src.length), bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

function halfView(raw: Uint8Array): Uint16Array {
  // Own buffers from loadTensors start at offset 0, so the view is always aligned.
  return new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength >>> 1);
}

/** What `data` becomes once stored as `dtype` and read back (handy for checks). */
export function roundTo(dtype: FloatDtype, data: Float32Array): Float32Array {
  if (dtype === 'F32') return Float32Array.from(data);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    out[i] = dtype === 'F16' ? f16BitsToF32(f32ToF16Bits(data[i])) : bf16BitsToF32(f32ToBf16Bits(data[i]));
  }
  return out;
}
