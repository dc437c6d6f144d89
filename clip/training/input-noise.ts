/**
 * Noise on a mapper's input features, drawn per batch from the batch's generator:
 *   'lincir':   x + u·n with u ~ U(0, 1) one per row and n ~ N(0, I) (LinCIR's train_phi.py: it closes the
 *               gap between the text features φ trains on and the image features it meets at test time)
 *   'gaussian': x + σ·n, n ~ N(0, I)
 *   'none':     x unchanged
 * Added to the unnormalised features, in place.
 */
import type { Rng } from '../../util/rng.ts';

export const INPUT_NOISES = ['none', 'lincir', 'gaussian'] as const;
export type InputNoise = typeof INPUT_NOISES[number];

/** `x` [rows × dim]; `sigma` is used by 'gaussian' only. */
export function addInputNoise(x: Float32Array, rows: number, dim: number, kind: InputNoise, sigma: number, rng: Rng): Float32Array {
  if (x.length !== rows * dim) throw new Error(`input noise: ${x.length} values for ${rows} rows of ${dim}`);
  if (kind === 'none') return x;
  for (let r = 0; r < rows; r++) {
    const scale = kind === 'lincir' ? rng.next() : sigma;
    for (let i = r * dim; i < (r + 1) * dim; i++) x[i] += scale * rng.normal();
  }
  return x;
}
