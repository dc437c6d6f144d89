/**
 * Random CLIP weights in memory, tensor by tensor on demand, for benchmarks and gradient checks: speed
 * does not depend on the values. Initialisation follows make-model (N(0, 0.02²), LayerNorms at 1/0,
 * positions N(0, 0.01²)); each tensor has its own generator seeded by (seed, name), so a tensor's
 * values do not depend on which others were asked for.
 */
import { Rng } from '../../util/rng.ts';
import { hashJson } from '../../util/hash.ts';
import type { ClipConfig } from './config.ts';
import { expectedClipTensors } from './clip-tensors.ts';
import type { WeightSource } from './weight-source.ts';

/** Fills a tensor's values by its HF name. */
export function initialiseTensor(name: string, out: Float32Array, rng: Rng): Float32Array {
  if (name === 'logit_scale') return out.fill(Math.log(1 / 0.07));
  if (/(layer_norm\d?|layernorm|layrnorm)\.weight$/.test(name)) return out.fill(1);
  if (/(layer_norm\d?|layernorm|layrnorm)\.bias$/.test(name)) return out.fill(0);
  if (name.endsWith('position_embedding.weight')) return rng.fillNormal(out, 0.01);
  return rng.fillNormal(out, 0.02);
}

export function randomWeightSource(config: ClipConfig, seed: number): WeightSource {
  const shapes = new Map(expectedClipTensors(config).map((t) => [t.name, t.shape]));
  return {
    config,
    hash: `random-${hashJson({ config, seed })}`,
    tensor(name: string): Float32Array {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`no tensor ${name} in a CLIP model`);
      const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
      return initialiseTensor(name, out, new Rng(`${seed}:${name}`));
    },
  };
}
