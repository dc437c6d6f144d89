/**
 * Pic2Word's mapping network f_M, the authors' IM2TEXT (google-research/composed_image_retrieval,
 * model/model.py): n_layer blocks of Linear → Dropout → ReLU, then fc_out, under the authors' state-dict
 * names (nn.Sequential blocks `layers.{i}` whose Linear is index 0; PyTorch Linear layout [out, in]):
 *   layers.0.0.weight [middle, d], layers.0.0.bias [middle], layers.1.0.weight [middle, middle], …,
 *   fc_out.weight [D, middle], fc_out.bias [D]
 * main.py builds it as IM2TEXT(embed_dim = CLIP's projection dim, middle_dim = --middle_dim (512),
 * output_dim = the token-embedding width, n_layer = --n-layer (2)) with its dropout default 0.1.
 */
import type { Graph, Value } from '../../clip/graph/graph.ts';
import * as op from '../../clip/graph/ops.ts';
import { relu } from '../../clip/graph/ops-extra.ts';
import type { Rng } from '../../util/rng.ts';

export interface Im2TextDims {
  /** d: image feature (projection) dim */
  input: number;
  /** middle_dim */
  middle: number;
  /** D: text token-embedding width */
  output: number;
  /** n_layer: hidden blocks before fc_out */
  layers: number;
}

/** A parameter name of the authors' state dict. */
export type Im2TextWeights = Record<string, Float32Array>;

export function im2textDims(featureDim: number, tokenWidth: number, middle = 512, layers = 2): Im2TextDims {
  return { input: featureDim, middle, output: tokenWidth, layers };
}

/** The parameter names in the authors' order (block by block, then fc_out). */
export function paramNames(dims: Im2TextDims): string[] {
  const names: string[] = [];
  for (let i = 0; i < dims.layers; i++) names.push(`layers.${i}.0.weight`, `layers.${i}.0.bias`);
  names.push('fc_out.weight', 'fc_out.bias');
  return names;
}

const BLOCK_RE = /^layers\.(\d+)\.0\.(weight|bias)$/;

/** Input width (fan-in) of the Linear a parameter belongs to. */
function fanIn(dims: Im2TextDims, name: string): number {
  const m = BLOCK_RE.exec(name);
  if (m) return Number(m[1]) === 0 ? dims.input : dims.middle;
  if (name === 'fc_out.weight' || name === 'fc_out.bias') return dims.layers === 0 ? dims.input : dims.middle;
  throw new Error(`not an IM2TEXT parameter: ${name}`);
}

/** PyTorch shape of a parameter: weights [out, in], biases [out]. */
export function paramShape(dims: Im2TextDims, name: string): number[] {
  const out = name.startsWith('fc_out.') ? dims.output : dims.middle;
  return name.endsWith('.weight') ? [out, fanIn(dims, name)] : [out];
}

/** torch nn.Linear's default: weight and bias ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5). */
export function initIm2TextWeights(dims: Im2TextDims, rng: Rng): Im2TextWeights {
  const out: Im2TextWeights = {};
  for (const name of paramNames(dims)) {
    const bound = 1 / Math.sqrt(fanIn(dims, name));
    const a = new Float32Array(paramShape(dims, name).reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
    out[name] = a;
  }
  return out;
}

/** Dims from named tensors' shapes (an IM2TEXT state dict or a checkpoint); throws naming what is wrong. */
export function dimsFromShapes(shape: (name: string) => number[] | undefined): Im2TextDims {
  const fc = shape('fc_out.weight');
  if (!fc || fc.length !== 2) throw new Error('not a Pic2Word IM2TEXT state dict: fc_out.weight must be 2-D');
  let layers = 0;
  while (shape(`layers.${layers}.0.weight`)) layers++;
  const first = layers ? shape('layers.0.0.weight')! : fc;
  if (first.length !== 2) throw new Error('layers.0.0.weight must be 2-D');
  const dims: Im2TextDims = { input: first[1], middle: layers ? first[0] : fc[1], output: fc[0], layers };
  for (const name of paramNames(dims)) {
    const got = shape(name), want = paramShape(dims, name);
    if (!got) throw new Error(`not a Pic2Word IM2TEXT state dict: ${name} is missing`);
    if (got.join(',') !== want.join(',')) throw new Error(`${name} has shape [${got}], expected [${want}]`);
  }
  return dims;
}

/**
 * f_M(x) for x [B, d] → [B, D]. `masks`: one dropout mask [B, middle] per block (0 or 1/(1 − p), drawn
 * by the host), or null in eval mode. Dropout comes before the ReLU, as in the authors' blocks.
 */
export function im2textForward(G: Graph, x: Value, w: Record<string, Value>, dims: Im2TextDims, masks: Value[] | null): Value {
  const lin = (h: Value, W: Value, b: Value) => op.linear(G, h, op.transpose(G, W, [1, 0]), b);
  let h = x;
  for (let i = 0; i < dims.layers; i++) {
    h = lin(h, w[`layers.${i}.0.weight`], w[`layers.${i}.0.bias`]);
    if (masks) h = op.mul(G, h, masks[i]);
    h = relu(G, h);
  }
  return lin(h, w['fc_out.weight'], w['fc_out.bias']);
}
