/**
 * Differentiable ops. Each forward emits ONNX nodes and records, on the graph's tape, the
 * vector-Jacobian product that autodiff.ts calls with the output's gradient. The backward of each op is
 * written right under its forward, llm.c style; shapes are in the comments.
 */
import { type Dim, type Graph, type Value, broadcastShape } from './graph.ts';

// ---------------------------------------------------------------------------------------------
// shape helpers (not differentiable by themselves; used by backward code)

/** Sums `g` (shape `from`) down to `to` (a broadcast source shape): the gradient of a broadcast. */
export function reduceToShape(G: Graph, g: Value, to: Dim[]): Value {
  const from = g.shape;
  if (from.length === to.length && from.every((d, i) => d === to[i])) return g;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  let out = g;
  if (axes.length) {
    const keptShape = from.map((d, i) => (axes.includes(i) ? 1 : d));
    out = G.node('ReduceSum', [g, G.constInt64(axes)], { shape: keptShape }, { keepdims: 1 });
  }
  if (lead > 0) out = G.node('Reshape', [out, shapeOf(G, to)], { shape: to });
  return out;
}

/** A constant int64 shape tensor for a static shape; symbolic dims must not appear. */
function shapeOf(G: Graph, dims: Dim[]): Value {
  if (dims.some((d) => typeof d !== 'number')) {
    // keep the symbolic axes as 0 ("copy from input") is not valid after a reduce; use -1 for one of them
    const sym = dims.filter((d) => typeof d !== 'number').length;
    if (sym > 1) throw new Error(`cannot reshape to [${dims}] statically`);
    return G.constInt64(dims.map((d) => (typeof d === 'number' ? d : -1)));
  }
  return G.constInt64(dims as number[]);
}


// ---------------------------------------------------------------------------------------------
// elementwise

/** y = a + b (broadcast) */
export function add(G: Graph, a: Value, b: Value): Value {
  const y = G.node('Add', [a, b], { shape: broadcastShape(a.shape, b.shape) });
  G.record({ inputs: [a, b], output: y, backward: (g) => [
    a.needsGrad ? reduceToShape(G, g, a.shape) : null,
    b.needsGrad ? reduceToShape(G, g, b.shape) : null,
  ] });
  return y;
}

/** y = a - b (broadcast) */
export function sub(G: Graph, a: Value, b: Value): Value {
  const y = G.node('Sub', [a, b], { shape: broadcastShape(a.shape, b.shape) });
  G.record({ inputs: [a, b], output: y, backward: (g) => [
    a.needsGrad ? reduceToShape(G, g, a.shape) : null,
    b.needsGrad ? reduceToShape(G, G.node('Neg', [g], { shape: g.shape }), b.shape) : null,
  ] });
  return y;
}

/** y = a * b (broadcast) */
export function mul(G: Graph, a: Value, b: Value): Value {
  const y = G.node('Mul', [a, b], { shape: broadcastShape(a.shape, b.shape) });
  G.record({ inputs: [a, b], output: y, backward: (g) => [
    a.needsGrad ? reduceToShape(G, G.node('Mul', [g, b], { shape: y.shape }), a.shape) : null,
    b.needsGrad ? reduceToShape(G, G.node('Mul', [g, a], { shape: y.shape }), b.shape) : null,
  ] });
  return y;
}

/** y = a / b (broadcast) */
export function div(G: Graph, a: Value, b: Value): Value {
  const y = G.node('Div', [a, b], { shape: broadcastShape(a.shape, b.shape) });
  G.record({ inputs: [a, b], output: y, backward: (g) => {
    const ga = a.needsGrad ? reduceToShape(G, G.node('Div', [g, b], { shape: y.shape }), a.shape) : null;
    let gb: Value | null = null;
    if (b.needsGrad) {
      // d(a/b)/db = -y/b
      const t = G.node('Div', [G.node('Mul', [g, y], { shape: y.shape }), b], { shape: y.shape });
      gb = reduceToShape(G, G.node('Neg', [t], { shape: y.shape }), b.shape);
    }
    return [ga, gb];
  } });
  return y;
}

/** y = x * s for a scalar constant s */
export function scale(G: Graph, x: Value, s: number): Value {
  const c = G.constFloat(s);
  const y = G.node('Mul', [x, c], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => [G.node('Mul', [g, c], { shape: g.shape })] });
  return y;
}

/** y = sqrt(x) */
export function sqrt(G: Graph, x: Value): Value {
  const y = G.node('Sqrt', [x], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => [
    // dy/dx = 0.5 / y
    G.node('Div', [G.node('Mul', [g, G.constFloat(0.5)], { shape: g.shape }), y], { shape: g.shape }),
  ] });
  return y;
}

/** y = sigmoid(x) */
export function sigmoid(G: Graph, x: Value): Value {
  const y = G.node('Sigmoid', [x], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => {
    // dy/dx = y (1 - y)
    const oneMinus = G.node('Sub', [G.constFloat(1), y], { shape: y.shape });
    return [G.node('Mul', [g, G.node('Mul', [y, oneMinus], { shape: y.shape })], { shape: y.shape })];
  } });
  return y;
}

/** quick-GELU (CLIP): y = x · σ(1.702 x) */
export function quickGelu(G: Graph, x: Value): Value {
  return mul(G, x, sigmoid(G, scale(G, x, 1.702)));
}

/** exact GELU (PyTorch nn.GELU): y = 0.5 x (1 + erf(x/√2)) */
export function gelu(G: Graph, x: Value): Value {
  const c = G.constFloat(Math.SQRT1_2);
  const erf = G.node('Erf', [G.node('Mul', [x, c], { shape: x.shape })], { shape: x.shape });
  const onePlus = G.node('Add', [erf, G.constFloat(1)], { shape: x.shape });
  const y = G.node('Mul', [G.node('Mul', [x, onePlus], { shape: x.shape }), G.constFloat(0.5)], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => {
    // dy/dx = 0.5 (1 + erf(x/√2)) + x · exp(−x²/2) / √(2π)
    const x2 = G.node('Mul', [x, x], { shape: x.shape });
    const pdf = G.node('Mul', [G.node('Exp', [G.node('Mul', [x2, G.constFloat(-0.5)], { shape: x.shape })], { shape: x.shape }),
      G.constFloat(1 / Math.sqrt(2 * Math.PI))], { shape: x.shape });
    const d = G.node('Add', [G.node('Mul', [onePlus, G.constFloat(0.5)], { shape: x.shape }),
      G.node('Mul', [x, pdf], { shape: x.shape })], { shape: x.shape });
    return [G.node('Mul', [g, d], { shape: x.shape })];
  } });
  return y;
}

/** y = exp(x) */
export function exp(G: Graph, x: Value): Value {
  const y = G.node('Exp', [x], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => [G.node('Mul', [g, y], { shape: y.shape })] });
  return y;
}

/** y = log(x) */
export function log(G: Graph, x: Value): Value {
  const y = G.node('Log', [x], { shape: x.shape });
  G.record({ inputs: [x], output: y, backward: (g) => [G.node('Div', [g, x], { shape: x.shape })] });
  return y;
}

// ---------------------------------------------------------------------------------------------
// reductions

/** Sum over `axes`; keepdims as ONNX. */
export function reduceSum(G: Graph, x: Value, axes: number[], keepdims: boolean): Value {
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const outShape = keepdims ? keptShape : x.shape.filter((_, i) => !ax.includes(i));
  const y = G.node('ReduceSum', [x, G.constInt64(ax)], { shape: outShape }, { keepdims: keepdims ? 1 : 0 });
  G.record({ inputs: [x], output: y, backward: (g) => {
    // broadcast g back over the reduced axes: expand needs the kept-dims form
    const gk = keepdims ? g : G.node('Unsqueeze', [g, G.constInt64(ax)], { shape: keptShape });
    return [G.node('Expand', [gk, G.node('Shape', [x], { shape: [x.shape.length], dtype: 'int64', needsGrad: false })], { shape: x.shape })];
  } });
  return y;
}

/** Mean over `axes` (static sizes required for the scale). */
export function reduceMean(G: Graph, x: Value, axes: number[], keepdims: boolean, count?: number): Value {
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  let n = count;
  if (n === undefined) {
    n = 1;
    for (const a of ax) {
      const d = x.shape[a];
      if (typeof d !== 'number') throw new Error(`reduceMean over symbolic axis ${a}: pass count`);
      n *= d;
    }
  }
  return scale(G, reduceSum(G, x, ax, keepdims), 1 / n);
}

/** Mean over a dynamic axis (the batch), computed at run time: sum / size. */
export function reduceMeanDynamic(G: Graph, x: Value, axis: number, keepdims: boolean): Value {
  const s = reduceSum(G, x, [axis], keepdims);
  const shape = G.node('Shape', [x], { shape: [x.shape.length], dtype: 'int64', needsGrad: false });
  const size = G.node('Gather', [shape, G.constInt64([axis], [])], { shape: [], dtype: 'int64', needsGrad: false }, { axis: 0 });
  const sizeF = G.node('Cast', [size], { shape: [], dtype: 'float', needsGrad: false }, { to: 1 });
  return div(G, s, sizeF);
}

// ---------------------------------------------------------------------------------------------
// linear algebra

function transposeLast2(G: Graph, x: Value): Value {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  const shape = perm.map((p) => x.shape[p]);
  return G.node('Transpose', [x], { shape }, { perm });
}

/** y = a @ b. a [..., M, K], b [..., K, N] (same batch dims) or b [K, N]. */
export function matmul(G: Graph, a: Value, b: Value): Value {
  const outShape = [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]];
  const y = G.node('MatMul', [a, b], { shape: outShape });
  G.record({ inputs: [a, b], output: y, backward: (g) => {
    // da = g @ bᵀ  [..., M, K]
    const ga = a.needsGrad ? G.node('MatMul', [g, transposeLast2(G, b)], { shape: a.shape }) : null;
    let gb: Value | null = null;
    if (b.needsGrad) {
      if (b.shape.length === 2 && a.shape.length > 2) {
        // db = Σ_batch aᵀ g: flatten the batch rows, then one [K, rows] @ [rows, N]
        const K = a.shape[a.shape.length - 1], N = b.shape[1];
        const a2 = G.node('Reshape', [a, G.constInt64([-1, K as number])], { shape: ['R', K] });
        const g2 = G.node('Reshape', [g, G.constInt64([-1, N as number])], { shape: ['R', N] });
        gb = G.node('MatMul', [transposeLast2(G, a2), g2], { shape: b.shape });
      } else {
        gb = G.node('MatMul', [transposeLast2(G, a), g], { shape: b.shape });
      }
    }
    return [ga, gb];
  } });
  return y;
}

/**
 * y = x @ Wᵀ + bias for an HF Linear (W [out, in] passed as its transpose wt [in, out]). x [..., in] of
 * rank 3 or more is flattened to rows [R, in] around the product: ONNX Runtime fuses MatMul + Add into
 * one Gemm (the bias added in the GEMM's epilogue, the same float sum) only on 2-D inputs with dynamic dims.
 */
export function linear(G: Graph, x: Value, wt: Value, bias: Value | null): Value {
  if (x.shape.length <= 2) {
    const y = matmul(G, x, wt);
    return bias ? add(G, y, bias) : y;
  }
  const [inDim, outDim] = wt.shape as [number, number];
  let y = matmul(G, reshape(G, x, [-1, inDim], ['R', inDim]), wt);
  if (bias) y = add(G, y, bias);
  const lead = G.node('Shape', [x], { shape: [x.shape.length - 1], dtype: 'int64', needsGrad: false }, { end: -1 });
  const to = G.node('Concat', [lead, G.constInt64([outDim])], { shape: [x.shape.length], dtype: 'int64', needsGrad: false }, { axis: 0 });
  return reshapeTo(G, y, to, [...x.shape.slice(0, -1), outDim]);
}

// ---------------------------------------------------------------------------------------------
// normalisation and attention pieces

/** LayerNorm over the last axis. x [..., D], gamma/beta [D] (constants: no gradient for them). */
export function layerNorm(G: Graph, x: Value, gamma: Value, beta: Value, eps: number): Value {
  const statShape = [...x.shape.slice(0, -1), 1];
  const [y, mean, invStd] = G.nodeMulti('LayerNormalization', [x, gamma, beta],
    [{ shape: x.shape }, { shape: statShape }, { shape: statShape }], { axis: -1, epsilon: { float: eps } });
  if (gamma.needsGrad || beta.needsGrad) throw new Error('layerNorm: gradients of gamma/beta are not implemented');
  G.record({ inputs: [x], output: y, backward: (g) => {
    // x̂ = (x − μ)·r;  gx = r · (g·γ − mean(g·γ) − x̂ · mean(g·γ·x̂))
    const xhat = G.node('Mul', [G.node('Sub', [x, mean], { shape: x.shape }), invStd], { shape: x.shape });
    const gg = G.node('Mul', [g, gamma], { shape: x.shape });
    const m1 = G.node('ReduceMean', [gg, G.constInt64([-1])], { shape: statShape }, { keepdims: 1 });
    const m2 = G.node('ReduceMean', [G.node('Mul', [gg, xhat], { shape: x.shape }), G.constInt64([-1])], { shape: statShape }, { keepdims: 1 });
    const inner = G.node('Sub', [G.node('Sub', [gg, m1], { shape: x.shape }), G.node('Mul', [xhat, m2], { shape: x.shape })], { shape: x.shape });
    return [G.node('Mul', [inner, invStd], { shape: x.shape })];
  } });
  return { ...y, needsGrad: x.needsGrad };
}

/** Softmax over the last axis; `y·(g − Σ g·y)` backward. */
export function softmax(G: Graph, x: Value): Value {
  const y = G.node('Softmax', [x], { shape: x.shape }, { axis: -1 });
  G.record({ inputs: [x], output: y, backward: (g) => {
    const gy = G.node('Mul', [g, y], { shape: y.shape });
    const s = G.node('ReduceSum', [gy, G.constInt64([-1])], { shape: [...y.shape.slice(0, -1), 1] }, { keepdims: 1 });
    return [G.node('Sub', [gy, G.node('Mul', [y, s], { shape: y.shape })], { shape: y.shape })];
  } });
  return y;
}

/** Reshape to `dims` (ONNX semantics: 0 copies, −1 infers); `shape` is the static result shape. */
export function reshape(G: Graph, x: Value, dims: number[], shape: Dim[]): Value {
  const y = G.node('Reshape', [x, G.constInt64(dims)], { shape });
  G.record({ inputs: [x], output: y, backward: (g) => [
    G.node('Reshape', [g, G.node('Shape', [x], { shape: [x.shape.length], dtype: 'int64', needsGrad: false })], { shape: x.shape }),
  ] });
  return y;
}

/** Reshape to a shape computed in the graph (`to`, int64 [rank]); `shape` is the static result shape. */
export function reshapeTo(G: Graph, x: Value, to: Value, shape: Dim[]): Value {
  const y = G.node('Reshape', [x, to], { shape });
  G.record({ inputs: [x], output: y, backward: (g) => [
    G.node('Reshape', [g, G.node('Shape', [x], { shape: [x.shape.length], dtype: 'int64', needsGrad: false })], { shape: x.shape }),
  ] });
  return y;
}

/** Transpose by `perm`. */
export function transpose(G: Graph, x: Value, perm: number[]): Value {
  const y = G.node('Transpose', [x], { shape: perm.map((p) => x.shape[p]) }, { perm });
  const inv = perm.map((_, i) => perm.indexOf(i));
  G.record({ inputs: [x], output: y, backward: (g) => [G.node('Transpose', [g], { shape: x.shape }, { perm: inv })] });
  return y;
}

/** Unsqueeze `axes`. */
export function unsqueeze(G: Graph, x: Value, axes: number[]): Value {
  const shape = x.shape.slice();
  for (const a of [...axes].sort((p, q) => p - q)) shape.splice(a, 0, 1);
  const y = G.node('Unsqueeze', [x, G.constInt64(axes)], { shape });
  G.record({ inputs: [x], output: y, backward: (g) => [G.node('Squeeze', [g, G.constInt64(axes)], { shape: x.shape })] });
  return y;
}

/** Squeeze `axes`. */
export function squeeze(G: Graph, x: Value, axes: number[]): Value {
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  const y = G.node('Squeeze', [x, G.constInt64(ax)], { shape: x.shape.filter((_, i) => !ax.includes(i)) });
  G.record({ inputs: [x], output: y, backward: (g) => [G.node('Unsqueeze', [g, G.constInt64(ax)], { shape: x.shape })] });
  return y;
}

/** Row-wise L2 normalisation over the last axis: x / ‖x‖. */
export function l2Normalize(G: Graph, x: Value): Value {
  const norm = sqrt(G, reduceSum(G, mul(G, x, x), [-1], true));
  return div(G, x, norm);
}

/** Per-row cosine similarity over the last axis: [..., D] × [..., D] → [...]. */
export function cosine(G: Graph, a: Value, b: Value): Value {
  return reduceSum(G, mul(G, l2Normalize(G, a), l2Normalize(G, b)), [-1], false);
}

/** Marks a value as not needing gradients (for constants computed in-graph). */
export function stopGradient(x: Value): Value {
  return { ...x, needsGrad: false };
}
