/**
 * AdamW and SEARLE's EMA as graph nodes, for state that stays on the device (clip/runtime/device-tensors.ts):
 * the same update as adamw.ts, in float32 on the provider. The per-step scalars (bias corrections, the learning
 * rate of a schedule) come in as one small [8] input computed on the host by `adamwHyper`.
 */
import type { Graph, Value } from '../graph/graph.ts';
import type { AdamWOptions } from './adamw.ts';

/** Positions in the hyper-parameter input. */
const HP = { decay: 0, stepSize: 1, b1: 2, oneMinusB1: 3, b2: 4, oneMinusB2: 5, sqrtBc2: 6, eps: 7 } as const;
export const ADAMW_HYPER_SIZE = 8;

/** The [8] hyper-parameters of step `step` (1-based, PyTorch's `step` after its increment). */
export function adamwHyper(o: AdamWOptions, step: number): Float32Array {
  const [b1, b2] = o.betas;
  return Float32Array.of(1 - o.lr * o.weightDecay, o.lr / (1 - b1 ** step), b1, 1 - b1, b2, 1 - b2, Math.sqrt(1 - b2 ** step), o.eps);
}

function scalar(G: Graph, hp: Value, at: number): Value {
  return G.node('Gather', [hp, G.constInt64([at], [])], { shape: [], needsGrad: false }, { axis: 0 });
}

const bin = (G: Graph, opType: string, a: Value, b: Value, shape = a.shape): Value => G.node(opType, [a, b], { shape, needsGrad: false });

export interface AdamWState { param: Value; m: Value; s: Value }

/**
 * One AdamW step of `param` (any shape) with gradient `grad`; `hp` is adamwHyper's [8] input.
 *   p' = p·(1 − lr·wd) − (lr/bc1)·m' / (√s' / √bc2 + ε),  m' = β1·m + (1 − β1)·g,  s' = β2·s + (1 − β2)·g²
 */
export function adamwStep(G: Graph, st: AdamWState, grad: Value, hp: Value): AdamWState {
  const at = (k: keyof typeof HP) => scalar(G, hp, HP[k]);
  const m = bin(G, 'Add', bin(G, 'Mul', st.m, at('b1')), bin(G, 'Mul', grad, at('oneMinusB1')));
  const s = bin(G, 'Add', bin(G, 'Mul', st.s, at('b2')), bin(G, 'Mul', bin(G, 'Mul', grad, grad), at('oneMinusB2')));
  const denom = bin(G, 'Add', bin(G, 'Div', G.node('Sqrt', [s], { shape: s.shape, needsGrad: false }), at('sqrtBc2')), at('eps'));
  const update = bin(G, 'Mul', bin(G, 'Div', m, denom), at('stepSize'));
  const param = bin(G, 'Sub', bin(G, 'Mul', st.param, at('decay')), update);
  return { param, m, s };
}

/** ema' = decay·ema + (1 − decay)·x; `decay` and `oneMinusDecay` are [] values (inputs: the decay is an option). */
export function emaStep(G: Graph, ema: Value, x: Value, decay: Value, oneMinusDecay: Value): Value {
  return bin(G, 'Add', bin(G, 'Mul', ema, decay), bin(G, 'Mul', x, oneMinusDecay));
}

/** `where(cond, a, b)` elementwise, cond bool broadcast against a. */
export function select(G: Graph, cond: Value, a: Value, b: Value): Value {
  return G.node('Where', [cond, a, b], { shape: a.shape, needsGrad: false });
}
