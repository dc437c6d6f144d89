/**
 * Independent readers for the tests: a minimal pickle VM for the opcodes of protocol 2 that plain data
 * and torch.save use (written from Python's pickletools documentation, not from util/pickle-writer.ts),
 * and a zip reader that walks the end-of-central-directory record, the central directory and each
 * local header, checking STORED entries against their CRC-32.
 */
import { crc32 } from 'node:zlib';

export class Global { constructor(readonly module: string, readonly name: string) {} }
export class Reduced { constructor(readonly fn: Global, readonly args: unknown[]) {} }
export class Tuple { constructor(readonly items: unknown[]) {} }
export class OrderedDict extends Map<unknown, unknown> {}

const MARK = Symbol('mark');

/** Unpickles `buf`; `persistentLoad` resolves BINPERSID ids; globals come back as Global, calls as Reduced (OrderedDict() as a Map). */
export function unpickle(buf: Uint8Array, persistentLoad: (pid: unknown) => unknown = () => { throw new Error('no persistent_load'); }): unknown {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let i = 0;
  const popMark = (): unknown[] => {
    const k = stack.lastIndexOf(MARK);
    if (k < 0) throw new Error('no MARK');
    const items = stack.splice(k + 1);
    stack.pop();
    return items;
  };
  const readLine = () => { const e = b.indexOf(0x0a, i); const s = b.toString('utf8', i, e); i = e + 1; return s; };
  for (;;) {
    const op = b[i++];
    switch (op) {
      case 0x80: i++; break; // PROTO n
      case 0x2e: if (stack.length !== 1) throw new Error(`STOP with ${stack.length} items`); return stack[0];
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(b[i]); i += 1; break;
      case 0x4d: stack.push(b.readUInt16LE(i)); i += 2; break;
      case 0x4a: stack.push(b.readInt32LE(i)); i += 4; break;
      case 0x8a: { // LONG1
        const n = b[i++];
        let v = 0n;
        for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]);
        if (n > 0 && b[i + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        i += n; stack.push(Number(v)); break;
      }
      case 0x47: stack.push(b.readDoubleBE(i)); i += 8; break;
      case 0x58: { const n = b.readUInt32LE(i); i += 4; stack.push(b.toString('utf8', i, i + n)); i += n; break; }
      case 0x8c: { const n = b[i++]; stack.push(b.toString('utf8', i, i + n)); i += n; break; } // SHORT_BINUNICODE
      case 0x5d: stack.push([]); break;
      case 0x7d: stack.push(new Map()); break;
      case 0x29: stack.push(new Tuple([])); break;
      case 0x28: stack.push(MARK); break;
      case 0x61: { const v = stack.pop(); (stack[stack.length - 1] as unknown[]).push(v); break; }
      case 0x65: { const items = popMark(); (stack[stack.length - 1] as unknown[]).push(...items); break; }
      case 0x73: { const v = stack.pop(); const k = stack.pop(); (stack[stack.length - 1] as Map<unknown, unknown>).set(k, v); break; }
      case 0x75: { const items = popMark(); const d = stack[stack.length - 1] as Map<unknown, unknown>; for (let k = 0; k < items.length; k += 2) d.set(items[k], items[k + 1]); break; }
      case 0x74: stack.push(new Tuple(popMark())); break;
      case 0x85: stack.push(new Tuple(stack.splice(-1))); break;
      case 0x86: stack.push(new Tuple(stack.splice(-2))); break;
      case 0x87: stack.push(new Tuple(stack.splice(-3))); break;
      case 0x63: { const m = readLine(); const n = readLine(); stack.push(new Global(m, n)); break; }
      case 0x52: {
        const args = stack.pop() as Tuple; const fn = stack.pop() as Global;
        stack.push(fn.module === 'collections' && fn.name === 'OrderedDict' && args.items.length === 0 ? new OrderedDict() : new Reduced(fn, args.items));
        break;
      }
      case 0x51: stack.push(persistentLoad(stack.pop())); break;
      case 0x71: memo.set(b[i++], stack[stack.length - 1]); break; // BINPUT
      case 0x68: stack.push(memo.get(b[i++])); break; // BINGET
      default: throw new Error(`unknown opcode 0x${op?.toString(16)} at ${i - 1}`);
    }
  }
}

export interface ZipRecord { name: string; data: Buffer; dataOffset: number; method: number }

/** The entries of a zip file, from its central directory; throws on a bad signature or CRC. */
export function readZip(file: Buffer): ZipRecord[] {
  const eocd = file.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('no end of central directory');
  const count = file.readUInt16LE(eocd + 10);
  let p = file.readUInt32LE(eocd + 16);
  const out: ZipRecord[] = [];
  for (let e = 0; e < count; e++) {
    if (file.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = file.readUInt16LE(p + 10), crc = file.readUInt32LE(p + 16), size = file.readUInt32LE(p + 20);
    const nameLen = file.readUInt16LE(p + 28), extraLen = file.readUInt16LE(p + 30), commentLen = file.readUInt16LE(p + 32);
    const local = file.readUInt32LE(p + 42);
    const name = file.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (file.readUInt32LE(local) !== 0x04034b50) throw new Error(`${name}: bad local header`);
    const dataOffset = local + 30 + file.readUInt16LE(local + 26) + file.readUInt16LE(local + 28);
    const data = file.subarray(dataOffset, dataOffset + size);
    if ((crc32(data) >>> 0) !== crc) throw new Error(`${name}: CRC mismatch`);
    out.push({ name, data, dataOffset, method });
  }
  return out;
}

/** torch.load for what torchSave writes: tensors come back as { shape, stride, data }. */
export function torchLoad(file: Buffer): unknown {
  const records = readZip(file);
  const byName = new Map(records.map((r) => [r.name, r]));
  const pkl = records.find((r) => r.name.endsWith('/data.pkl'));
  if (!pkl) throw new Error('no data.pkl');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const storages = (pid: unknown) => {
    const t = (pid as Tuple).items;
    if (t[0] !== 'storage' || !(t[1] instanceof Global) || t[1].name !== 'FloatStorage' || t[3] !== 'cpu') throw new Error('unexpected storage id');
    const rec = byName.get(`${prefix}data/${t[2] as string}`);
    if (!rec) throw new Error(`no storage ${t[2] as string}`);
    const copy = Buffer.from(rec.data);
    const data = new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
    if (data.length !== t[4]) throw new Error('storage size differs from numel');
    return data;
  };
  const rebuild = (v: unknown): unknown => {
    if (v instanceof Reduced && v.fn.module === 'torch._utils' && v.fn.name === '_rebuild_tensor_v2') {
      const [data, offset, size, stride] = v.args as [Float32Array, number, Tuple, Tuple];
      return { data: data.subarray(offset), shape: size.items as number[], stride: stride.items as number[], requiresGrad: v.args[4] };
    }
    if (v instanceof Map) { const m = v instanceof OrderedDict ? new OrderedDict() : new Map(); for (const [k, x] of v) m.set(k, rebuild(x)); return m; }
    if (Array.isArray(v)) return v.map(rebuild);
    return v;
  };
  return rebuild(unpickle(pkl.data, storages));
}
