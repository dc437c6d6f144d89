/**
 * Serialises a Graph as an ONNX model (opset 18) with its float weights as external data in one file
 * beside the model (`<name>.onnx` + `<name>.onnx.data`), so a 600 MB model never sits in a protobuf.
 */
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import { writeAllSync, writeFileAtomic, writeFileAtomicWith } from '../../util/atomic-write.ts';
import type { AttrValue, DType, Graph, GraphNode, Initializer, Value } from './graph.ts';

const { onnx } = onnxProto;

const ELEM: Record<DType, number> = { float: 1, int32: 6, int64: 7, bool: 9 };
/** Initializers at least this big go to the external data file. */
const EXTERNAL_MIN_BYTES = 1024;

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

function valueInfo(v: Value): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: { tensorType: { elemType: ELEM[v.dtype], shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function bytesOf(init: Initializer): Uint8Array {
  return new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
}

/**
 * The nodes that the outputs depend on, in order, and the initializers they read: builders may emit
 * more than a graph needs (the prefix graph's last MLP, a weight no node reads), and ORT would warn.
 */
function reachable(G: Graph): { nodes: GraphNode[]; initializers: Initializer[] } {
  const needed = new Set(G.outputs.map((o) => o.name));
  const keep: boolean[] = new Array(G.nodes.length).fill(false);
  for (let i = G.nodes.length - 1; i >= 0; i--) {
    const n = G.nodes[i];
    if (n.outputs.some((o) => needed.has(o))) {
      keep[i] = true;
      for (const input of n.inputs) needed.add(input);
    }
  }
  return { nodes: G.nodes.filter((_, i) => keep[i]), initializers: G.initializers.filter((t) => needed.has(t.name)) };
}

/** Writes `path` (model) and `path + '.data'` (weights), only what the outputs need. */
export function writeOnnxModel(G: Graph, path: string, producer = 'starword'): void {
  const { nodes, initializers: inits } = reachable(G);
  const dataPath = `${path}.data`;
  // the weights first, then the model that points at them: a reader never finds a model without its data
  const initializers = writeFileAtomicWith(dataPath, (fd) => {
    let offset = 0;
    const protos: onnxProto.onnx.ITensorProto[] = [];
    for (const init of inits) {
      const bytes = bytesOf(init);
      const proto: onnxProto.onnx.ITensorProto = { name: init.name, dims: init.dims, dataType: ELEM[init.dtype] };
      if (bytes.byteLength >= EXTERNAL_MIN_BYTES) {
        const pad = (64 - (offset % 64)) % 64; // aligned for mmap-friendly loading
        if (pad) { writeAllSync(fd, new Uint8Array(pad)); offset += pad; }
        writeAllSync(fd, bytes);
        proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        proto.externalData = [
          { key: 'location', value: basename(dataPath) },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ];
        offset += bytes.byteLength;
      } else {
        proto.rawData = bytes.slice();
      }
      protos.push(proto);
    }
    return protos;
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: producer,
    // contrib ops (com.microsoft, ORT's fused kernels) need their domain imported, at version 1
    opsetImport: [{ domain: '', version: 18 },
      ...(nodes.some((n) => n.domain === 'com.microsoft') ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    graph: {
      name: 'starword',
      node: nodes.map((n) => ({
        opType: n.opType, input: n.inputs, output: n.outputs, domain: n.domain ?? '',
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      })),
      input: G.inputs.map(valueInfo),
      output: G.outputs.map(valueInfo),
      initializer: initializers,
    },
  });
  writeFileAtomic(path, onnx.ModelProto.encode(model).finish());
}
