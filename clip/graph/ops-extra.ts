/**
 * Differentiable ops beyond ops.ts that phi's NT-Xent needs: concatenation (its VJP slices the
 * gradient back apart at run time, so symbolic batch dims work) and an identity mask shaped like a
 * square value (a constant: no gradient).
 */
import type { Dim, Graph, Value } from './graph.ts';

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
