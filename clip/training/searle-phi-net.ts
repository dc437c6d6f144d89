/**
 * SEARLE's phi (shared by the phi stage and LinCIR, whose φ is SEARLE's network as it is): Linear(d, 4d) → GELU → Dropout → Linear(4d, 4d) → GELU → Dropout → Linear(4d, D), its
 * parameters under SEARLE's state-dict names (nn.Sequential indices 0, 3, 6; PyTorch Linear layout
 * [out, in]), host-side initialisation as torch's nn.Linear, and the forward as graph ops.
 */
import { Graph, type Value } from '../graph/graph.ts';
import type { CheckpointLayout } from './training-checkpoint.ts';
import * as op from '../graph/ops.ts';
import type { Rng } from '../../util/rng.ts';

export interface PhiDims {
  /** d: image feature (projection) dim */
  input: number;
  /** 4d */
  hidden: number;
  /** D: text token-embedding width */
  output: number;
}

export const PHI_PARAMS = [
  'layers.0.weight', 'layers.0.bias', 'layers.3.weight', 'layers.3.bias', 'layers.6.weight', 'layers.6.bias',
] as const;
export type PhiParamName = typeof PHI_PARAMS[number];
export type PhiWeights = Record<PhiParamName, Float32Array>;

export function phiDims(featureDim: number, tokenWidth: number): PhiDims {
  return { input: featureDim, hidden: 4 * featureDim, output: tokenWidth };
}

/** PyTorch shape of a parameter: weights [out, in], biases [out]. */
export function paramShape(dims: PhiDims, name: PhiParamName): number[] {
  const { input: d, hidden: h, output: D } = dims;
  switch (name) {
    case 'layers.0.weight': return [h, d];
    case 'layers.0.bias': return [h];
    case 'layers.3.weight': return [h, h];
    case 'layers.3.bias': return [h];
    case 'layers.6.weight': return [D, h];
    case 'layers.6.bias': return [D];
  }
}


/** torch nn.Linear's default: weight and bias ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5). */
export function initPhiWeights(dims: PhiDims, rng: Rng): PhiWeights {
  const out = {} as PhiWeights;
  for (const name of PHI_PARAMS) {
    const shape = paramShape(dims, name);
    const fanIn = name === 'layers.0.weight' || name === 'layers.0.bias' ? dims.input : dims.hidden;
    const bound = 1 / Math.sqrt(fanIn);
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
    out[name] = a;
  }
  return out;
}

export function cloneWeights(w: PhiWeights): PhiWeights {
  const out = {} as PhiWeights;
  for (const n of PHI_PARAMS) out[n] = w[n].slice();
  return out;
}

/** Dims from named tensors' shapes (a SEARLE state dict or a checkpoint); throws on a mismatch. */
export function dimsFromShapes(shape: (name: PhiParamName) => number[] | undefined): PhiDims {
  const w0 = shape('layers.0.weight'), w6 = shape('layers.6.weight');
  if (!w0 || !w6 || w0.length !== 2 || w6.length !== 2) throw new Error('not a phi state dict: layers.0.weight and layers.6.weight must be 2-D');
  const dims: PhiDims = { input: w0[1], hidden: w0[0], output: w6[0] };
  for (const name of PHI_PARAMS) {
    const got = shape(name), want = paramShape(dims, name);
    if (!got) throw new Error(`not a phi state dict: ${name} is missing`);
    if (got.join(',') !== want.join(',')) throw new Error(`${name} has shape [${got}], expected [${want}]`);
  }
  return dims;
}

/** phi's parameters as graph values (inputs for training, initializers for export). */
export type PhiParamValues = Record<PhiParamName, Value>;

/**
 * phi(x) for x [B, d] → [B, D]. `masks`: dropout masks [B, 4d] after each GELU (0 or 1/(1 − p),
 * drawn by the host), or null in eval mode.
 */
export function phiForward(G: Graph, x: Value, w: PhiParamValues, masks: [Value, Value] | null): Value {
  const lin = (h: Value, W: Value, b: Value) => op.linear(G, h, op.transpose(G, W, [1, 0]), b);
  let h = op.gelu(G, lin(x, w['layers.0.weight'], w['layers.0.bias']));
  if (masks) h = op.mul(G, h, masks[0]);
  h = op.gelu(G, lin(h, w['layers.3.weight'], w['layers.3.bias']));
  if (masks) h = op.mul(G, h, masks[1]);
  return lin(h, w['layers.6.weight'], w['layers.6.bias']);
}

/** The network's checkpoint layout under a format name (phi's and LinCIR's checkpoints are told apart by it). */
export function searlePhiLayout(format: string, label: string): CheckpointLayout<PhiDims, string> {
  return { format, label, names: () => PHI_PARAMS, shape: (d, n) => paramShape(d, n as PhiParamName), dimsFromShapes: (shape) => dimsFromShapes(shape) };
}

/** The exported network: image (or text) features [B, d] → token [B, D], weights baked in as initializers. */
export function buildSearlePhiInferenceGraph(dims: PhiDims, weights: PhiWeights): Graph {
  const G = new Graph();
  const w = {} as PhiParamValues;
  for (const name of PHI_PARAMS) w[name] = G.weight(name, paramShape(dims, name), weights[name]);
  const x = G.input('image_features', 'float', ['B', dims.input]);
  G.output(phiForward(G, x, w, null), 'token');
  return G;
}

/**
 * Inverted-dropout masks of phi's two hidden layers for a batch of B rows ([B × hidden] each: 0 or
 * 1/(1−p)), drawn in that order from `rng`; null when p is 0 (eval mode, or no dropout).
 */
export function phiDropoutMasks(B: number, h: number, p: number, rng: Rng): [Float32Array, Float32Array] | null {
  if (p === 0) return null;
  const keep = 1 / (1 - p);
  const draw = () => {
    const m = new Float32Array(B * h);
    for (let i = 0; i < m.length; i++) m[i] = rng.next() < p ? 0 : keep;
    return m;
  };
  return [draw(), draw()];
}
