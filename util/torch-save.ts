/**
 * torch.save's file format (PyTorch ≥ 1.6 "zip" serialization) for float32 tensors, written without
 * Python: a STORED zip whose records are
 *   archive/data.pkl     the pickled object; each tensor is
 *                        torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())
 *                        with storage the persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
 *   archive/byteorder    "little"
 *   archive/data/<key>   each storage's raw little-endian bytes, 64-byte aligned
 *   archive/version      "3"
 * which torch.load reads, weights_only=True included (it allows exactly these globals).
 */
import { PyCall, PyDict, PyGlobal, PyPersistent, PyTuple, type PyValue, pickle } from './pickle-writer.ts';
import { type ZipEntry, writeStoredZip } from './zip-store.ts';

/** A float32 tensor to save: row-major data and its shape. */
export class TorchTensor {
  constructor(readonly data: Float32Array, readonly shape: number[]) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`tensor of shape [${shape}] needs ${n} values, got ${data.length}`);
  }
}

export type TorchValue = PyValue | TorchTensor | TorchValue[] | { dict: [string, TorchValue][]; ordered?: boolean };

const REBUILD = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
const FLOAT_STORAGE = new PyGlobal('torch', 'FloatStorage');

function contiguousStride(shape: number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) { stride[i] = s; s *= shape[i]; }
  return stride;
}

/** torch.save(value, path) for values made of plain data, dicts and float32 tensors. */
export function torchSave(path: string, value: TorchValue, archiveName = 'archive'): void {
  const storages: Float32Array[] = [];
  const convert = (v: TorchValue): PyValue => {
    if (v instanceof TorchTensor) {
      const key = String(storages.length);
      storages.push(v.data);
      const storage = new PyPersistent(new PyTuple(['storage', FLOAT_STORAGE, key, 'cpu', v.data.length]));
      return new PyCall(REBUILD, [storage, 0, new PyTuple(v.shape), new PyTuple(contiguousStride(v.shape)), false, new PyDict([], true)]);
    }
    if (Array.isArray(v)) return v.map(convert);
    if (v !== null && typeof v === 'object' && 'dict' in v && Array.isArray(v.dict)) {
      return new PyDict(v.dict.map(([k, x]) => [k, convert(x)]), v.ordered ?? false);
    }
    return v as PyValue;
  };
  const data = pickle(convert(value));
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (!le) throw new Error('torchSave writes little-endian storages; this machine is big-endian');
  const entries: ZipEntry[] = [
    { name: `${archiveName}/data.pkl`, data },
    { name: `${archiveName}/byteorder`, data: Buffer.from('little') },
    ...storages.map((s, i) => ({ name: `${archiveName}/data/${i}`, data: new Uint8Array(s.buffer, s.byteOffset, s.byteLength) })),
    { name: `${archiveName}/version`, data: Buffer.from('3\n') },
  ];
  writeStoredZip(path, entries, 64);
}
