/**
 * A pickle writer (protocol 2 opcodes) for the plain data SEARLE's scripts load: None, bools, ints,
 * floats, str, lists, tuples, dicts, and the few globals PyTorch's files need (a global called with
 * arguments, a persistent id). No memo: every value is written once, so nothing is shared or cyclic.
 * Spec: Python's Lib/pickletools.py.
 */

export type PyValue =
  | null | boolean | number | string | PyValue[]
  | PyTuple | PyDict | PyFloat | PyCall | PyGlobal | PyPersistent;

/** A tuple (JS arrays are lists). */
export class PyTuple { constructor(readonly items: PyValue[]) {} }
/** A dict in insertion order; `ordered` makes it a collections.OrderedDict (what state_dict() returns). */
export class PyDict { constructor(readonly entries: [PyValue, PyValue][], readonly ordered = false) {} }
/** A float even when integral (a plain JS number that is an integer is written as an int). */
export class PyFloat { constructor(readonly value: number) {} }
/** module.name, the class or function object itself. */
export class PyGlobal { constructor(readonly module: string, readonly name: string) {} }
/** callable(*args): pickle's REDUCE. */
export class PyCall { constructor(readonly callable: PyGlobal, readonly args: PyValue[]) {} }
/** A persistent id (BINPERSID): how torch's data.pkl points at a storage record. */
export class PyPersistent { constructor(readonly id: PyValue) {} }

const OP = {
  PROTO: 0x80, STOP: 0x2e, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89,
  BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d, APPEND: 0x61, APPENDS: 0x65, MARK: 0x28,
  EMPTY_TUPLE: 0x29, TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  EMPTY_DICT: 0x7d, SETITEM: 0x73, SETITEMS: 0x75,
  GLOBAL: 0x63, REDUCE: 0x52, BINPERSID: 0x51,
} as const;

/** APPENDS / SETITEMS in batches of this many, as CPython's pickler does. */
const BATCH = 1000;

class Out {
  private chunks: Buffer[] = [];
  private cur = Buffer.allocUnsafe(1 << 16);
  private n = 0;
  private room(k: number): void {
    if (this.n + k <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.n));
    this.cur = Buffer.allocUnsafe(Math.max(1 << 16, k));
    this.n = 0;
  }
  byte(b: number): void { this.room(1); this.cur[this.n++] = b; }
  bytes(b: Uint8Array): void { this.room(b.length); this.cur.set(b, this.n); this.n += b.length; }
  u16(v: number): void { this.room(2); this.cur.writeUInt16LE(v, this.n); this.n += 2; }
  u32(v: number): void { this.room(4); this.cur.writeUInt32LE(v, this.n); this.n += 4; }
  i32(v: number): void { this.room(4); this.cur.writeInt32LE(v, this.n); this.n += 4; }
  f64be(v: number): void { this.room(8); this.cur.writeDoubleBE(v, this.n); this.n += 8; }
  done(): Buffer { this.chunks.push(this.cur.subarray(0, this.n)); return Buffer.concat(this.chunks); }
}

/** Two's-complement little-endian bytes of a (safe) integer, as LONG1 wants them (shortest form). */
function longBytes(v: number): number[] {
  let x = BigInt(v);
  const out: number[] = [];
  for (;;) {
    const b = Number(x & 0xffn);
    out.push(b);
    x >>= 8n;
    if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) return out;
  }
}

function writeInt(o: Out, v: number): void {
  if (!Number.isSafeInteger(v)) throw new Error(`pickle: ${v} is not a safe integer`);
  if (v >= 0 && v < 0x100) { o.byte(OP.BININT1); o.byte(v); return; }
  if (v >= 0 && v < 0x10000) { o.byte(OP.BININT2); o.u16(v); return; }
  if (v >= -0x80000000 && v <= 0x7fffffff) { o.byte(OP.BININT); o.i32(v); return; }
  const b = longBytes(v);
  o.byte(OP.LONG1); o.byte(b.length); o.bytes(Uint8Array.from(b));
}

function writeStr(o: Out, s: string): void {
  const b = Buffer.from(s, 'utf8');
  o.byte(OP.BINUNICODE); o.u32(b.length); o.bytes(b);
}

function writeGlobal(o: Out, g: PyGlobal): void {
  if (/[\n]/.test(g.module + g.name)) throw new Error('pickle: a global name holds a newline');
  o.byte(OP.GLOBAL); o.bytes(Buffer.from(`${g.module}\n${g.name}\n`, 'utf8'));
}

function writeTuple(o: Out, items: PyValue[]): void {
  const short = [OP.EMPTY_TUPLE, OP.TUPLE1, OP.TUPLE2, OP.TUPLE3];
  if (items.length > 3) o.byte(OP.MARK);
  for (const it of items) write(o, it);
  o.byte(items.length <= 3 ? short[items.length] : OP.TUPLE);
}

function write(o: Out, v: PyValue): void {
  if (v === null) { o.byte(OP.NONE); return; }
  if (typeof v === 'boolean') { o.byte(v ? OP.NEWTRUE : OP.NEWFALSE); return; }
  if (typeof v === 'number') {
    if (Number.isInteger(v)) writeInt(o, v); else { o.byte(OP.BINFLOAT); o.f64be(v); }
    return;
  }
  if (typeof v === 'string') { writeStr(o, v); return; }
  if (Array.isArray(v)) {
    o.byte(OP.EMPTY_LIST);
    for (let s = 0; s < v.length; s += BATCH) {
      const batch = v.slice(s, s + BATCH);
      if (batch.length === 1) { write(o, batch[0]); o.byte(OP.APPEND); continue; }
      o.byte(OP.MARK);
      for (const it of batch) write(o, it);
      o.byte(OP.APPENDS);
    }
    return;
  }
  if (v instanceof PyFloat) { o.byte(OP.BINFLOAT); o.f64be(v.value); return; }
  if (v instanceof PyTuple) { writeTuple(o, v.items); return; }
  if (v instanceof PyDict) {
    if (v.ordered) { writeGlobal(o, new PyGlobal('collections', 'OrderedDict')); o.byte(OP.EMPTY_TUPLE); o.byte(OP.REDUCE); } else o.byte(OP.EMPTY_DICT);
    for (let s = 0; s < v.entries.length; s += BATCH) {
      const batch = v.entries.slice(s, s + BATCH);
      if (batch.length === 1) { write(o, batch[0][0]); write(o, batch[0][1]); o.byte(OP.SETITEM); continue; }
      o.byte(OP.MARK);
      for (const [k, x] of batch) { write(o, k); write(o, x); }
      o.byte(OP.SETITEMS);
    }
    return;
  }
  if (v instanceof PyGlobal) { writeGlobal(o, v); return; }
  if (v instanceof PyCall) { writeGlobal(o, v.callable); writeTuple(o, v.args); o.byte(OP.REDUCE); return; }
  if (v instanceof PyPersistent) { write(o, v.id); o.byte(OP.BINPERSID); return; }
  throw new Error(`pickle: cannot write ${typeof v}`);
}

/** The pickle of `value`: PROTO 2, the value, STOP. */
export function pickle(value: PyValue): Buffer {
  const o = new Out();
  o.byte(OP.PROTO); o.byte(2);
  write(o, value);
  o.byte(OP.STOP);
  return o.done();
}
