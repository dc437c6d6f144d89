/**
 * A small ONNX graph under construction: inputs, initializers, nodes, outputs, and a tape of the
 * differentiable ops recorded in forward order (autodiff.ts walks it backwards to emit gradient nodes).
 *
 * Shapes are tracked statically with symbolic dims ('B', 'T', …) so that gradient code knows which axes
 * a broadcast added and must sum over; ONNX Runtime still sees dynamic dims.
 */

export type Dim = number | string;
export type DType = 'float' | 'int64' | 'int32' | 'bool';

export interface Value {
  readonly name: string;
  readonly shape: Dim[];
  readonly dtype: DType;
  /** true when the value depends on something we differentiate with respect to */
  readonly needsGrad: boolean;
}

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export interface GraphNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain?: string;
}

export interface Initializer {
  name: string;
  dtype: DType;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

/** A recorded op: given the gradients of its output, emit the gradients of its inputs (null: none). */
export interface TapeEntry {
  inputs: Value[];
  output: Value;
  backward: (gradOutput: Value) => (Value | null)[];
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers: Initializer[] = [];
  readonly tape: TapeEntry[] = [];
  private counter = 0;
  private readonly constCache = new Map<string, Value>();
  /** Set while autodiff emits backward nodes, so those are not taped again. */
  recording = true;

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, dtype: DType, shape: Dim[], needsGrad = false): Value {
    const v: Value = { name, dtype, shape, needsGrad };
    this.inputs.push(v);
    return v;
  }

  output(value: Value, name?: string): Value {
    if (name && name !== value.name) {
      const renamed = this.node('Identity', [value], { name, shape: value.shape, dtype: value.dtype });
      this.outputs.push(renamed);
      return renamed;
    }
    this.outputs.push(value);
    return value;
  }

  /** A float weight (stored as external data when the model is written). */
  weight(name: string, dims: number[], data: Float32Array, needsGrad = false): Value {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`weight ${name}: ${data.length} values for dims [${dims}]`);
    this.initializers.push({ name, dtype: 'float', dims, data });
    return { name, dtype: 'float', shape: dims.slice(), needsGrad };
  }

  /** A small constant, deduplicated by content. */
  constInt64(values: number[], dims: number[] = [values.length]): Value {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let v = this.constCache.get(key);
    if (!v) {
      const name = this.fresh('const_i64');
      this.initializers.push({ name, dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
      v = { name, dtype: 'int64', shape: dims.slice(), needsGrad: false };
      this.constCache.set(key, v);
    }
    return v;
  }

  constFloat(values: number[] | number, dims?: number[]): Value {
    const arr = typeof values === 'number' ? [values] : values;
    const shape = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    const key = `f32:${shape.join('x')}:${arr.join(',')}`;
    let v = this.constCache.get(key);
    if (!v) {
      const name = this.fresh('const_f32');
      this.initializers.push({ name, dtype: 'float', dims: shape, data: Float32Array.from(arr) });
      v = { name, dtype: 'float', shape, needsGrad: false };
      this.constCache.set(key, v);
    }
    return v;
  }

  /** Emits one node with a single output. */
  node(opType: string, inputs: (Value | string)[], out: { name?: string; shape: Dim[]; dtype?: DType; needsGrad?: boolean },
    attrs: Record<string, AttrValue> = {}, domain?: string): Value {
    const name = out.name ?? this.fresh(opType.toLowerCase());
    this.nodes.push({ opType, inputs: inputs.map((i) => (typeof i === 'string' ? i : i.name)), outputs: [name], attrs, domain });
    const needsGrad = out.needsGrad ?? inputs.some((i) => typeof i !== 'string' && i.needsGrad);
    return { name, shape: out.shape, dtype: out.dtype ?? 'float', needsGrad };
  }

  /** Emits one node with several outputs. */
  nodeMulti(opType: string, inputs: (Value | string)[], outs: { shape: Dim[]; dtype?: DType }[],
    attrs: Record<string, AttrValue> = {}): Value[] {
    const values = outs.map((o) => ({ name: this.fresh(opType.toLowerCase()), shape: o.shape, dtype: o.dtype ?? 'float' as DType,
      needsGrad: inputs.some((i) => typeof i !== 'string' && i.needsGrad) }));
    this.nodes.push({ opType, inputs: inputs.map((i) => (typeof i === 'string' ? i : i.name)), outputs: values.map((v) => v.name), attrs });
    return values;
  }

  record(entry: TapeEntry): void {
    if (this.recording && entry.output.needsGrad) this.tape.push(entry);
  }
}

/** Broadcast shape of two static shapes (numpy rules, symbolic dims must match by name). */
export function broadcastShape(a: Dim[], b: Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new Error(`cannot broadcast [${a}] with [${b}]`);
  }
  return out;
}

export function numel(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
