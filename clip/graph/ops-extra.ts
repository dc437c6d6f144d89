/**
 * Differentiable ops beyond ops.ts: concatenation (its VJP slices the gradient back apart at run time,
 * so symbolic batch dims work) and an identity mask shaped like a square value (a constant: no
 * gradient), which phi's NT-Xent needs; ReLU and a stable log-sum-exp, which Pic2Word's mapping network
 * and its contrastive loss need.
 */
import type { Dim, Graph, Value } from './graph.ts';
import * as op from './ops.ts';

/** y = concat(xs, axis). `dimName` names the result's axis when the parts' sizes are symbolic. */
export function concat(G: Graph, xs: Value[], axis: number, dimName?: string): Value {
  if (!xs.length) throw new Error('concat of nothing');
  const rank = xs[0].shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  const sizes = xs.map((x) => x.shape[ax]);
  const total: Dim = sizes.every((s) => typeof s === 'number')
    ? (sizes as number[]).reduce((a, b) => a + b, 0)
    : dimName ?? sizes.join('+');
  const shape = xs[0].shape.map((d, i) => (i === ax ? total : d));
  const y = G.node('Concat', xs, { shape }, { axis: ax });
  G.record({ inputs: xs, output: y, backward: (g) => {
    // each part's gradient is its slice of g: [start, start + size) along the axis, sizes read at run time
    const out: (Value | null)[] = [];
    let start = G.constInt64([0]);
    for (const x of xs) {
      const shp = G.node('Shape', [x], { shape: [rank], dtype: 'int64', needsGrad: false });
      const size = G.node('Slice', [shp, G.constInt64([ax]), G.constInt64([ax + 1])], { shape: [1], dtype: 'int64', needsGrad: false });
      const end = G.node('Add', [start, size], { shape: [1], dtype: 'int64', needsGrad: false });
      out.push(x.needsGrad ? G.node('Slice', [g, start, end, G.constInt64([ax])], { shape: x.shape }) : null);
      start = end;
    }
    return out;
  } });
  return y;
}

/** 1 − I, shaped like the square matrix `like` [N, N]: zero on the diagonal, one elsewhere. */
export function offDiagonalMask(G: Graph, like: Value): Value {
  const eye = G.node('EyeLike', [like], { shape: like.shape, needsGrad: false });
  return G.node('Sub', [G.constFloat(1), eye], { shape: like.shape, needsGrad: false });
}

/** y = max(x, 0); backward g·[x > 0] (torch's threshold_backward: no gradient at exactly 0). */
export function relu(G: Graph, x: Value): Value {
  const y = G.node('Relu', [x], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => {
    const pos = G.node('Greater', [x, G.constFloat(0)], { shape: x.shape, dtype: 'bool', needsGrad: false });
    const mask = G.node('Cast', [pos], { shape: x.shape, needsGrad: false }, { to: 1 });
    return [G.node('Mul', [g, mask], { shape: x.shape })];
  } });
  return y;
}

/**
 * log Σ exp(x) over `axis` (keepdims false), stable: m + log Σ exp(x − m) with m the max over the axis
 * held constant — the value does not depend on m, so the gradient (softmax(x)) is exact.
 */
export function logSumExp(G: Graph, x: Value, axis: number): Value {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const keptShape = x.shape.map((d, i) => (i === ax ? 1 : d));
  const m = G.node('ReduceMax', [x, G.constInt64([ax])], { shape: keptShape, needsGrad: false }, { keepdims: 1 });
  const shifted = op.sub(G, x, m);
  const lse = op.add(G, op.log(G, op.reduceSum(G, op.exp(G, shifted), [ax], true)), m);
  return op.squeeze(G, lse, [ax]);
}
