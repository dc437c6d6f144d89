/**
 * safetensors files, read and written without a Python in sight.
 * Layout: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {...}}, then the raw little-endian tensor bytes (offsets relative to the end of the header).
 * Reading streams each file once, straight into the tensors' own buffers (no second copy of a 600 MB
 * model), and can feed every byte to a hash on the way. F32, F16 and BF16 become Float32Array.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Hash } from 'node:crypto';
import { UserError } from '../../util/errors.ts';
import { writeFileAtomicWithAsync } from '../../util/atomic-write.ts';
import { type FloatDtype, bf16BytesToF32, f16BytesToF32, f32ToBf16Bits, f32ToF16Bits } from './half-float.ts';

export { type FloatDtype, bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundTo } from './half-float.ts';

export const FLOAT_DTYPES: readonly FloatDtype[] = ['F32', 'F16', 'BF16'];

/** Bytes per element of every dtype the safetensors format names (so any valid file can be walked). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8, C64: 8,
};

/** Headers larger than this are not real safetensors headers (the Rust reader caps at 100 MB too). */
const MAX_HEADER_BYTES = 100_000_000;
/** Largest single read (fs reads are capped near 2 GiB). */
const READ_CHUNK = 1 << 28;

export interface TensorEntry {
  name: string; dtype: string; shape: number[];
  /** The file that holds it. */
  file: string;
  /** Absolute byte positions of its data in `file`. */
  begin: number; end: number;
}

export interface SafetensorsHeader {
  file: string; fileSize: number;
  /** Where tensor data starts: 8 + header length. */
  dataStart: number;
  tensors: TensorEntry[];
  metadata: Record<string, string> | null;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string { return `[${shape.join(',')}]`; }

function assertLittleEndianHost(): void {
  // Typed-array views below reinterpret file bytes in host order; safetensors is little-endian.
  if (endianness() !== 'LE') throw new UserError('safetensors: big-endian hosts are not supported');
}

async function openForRead(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file}: file not found`);
    if (code === 'EISDIR') throw new UserError(`${file}: is a folder, not a safetensors file`);
    throw new UserError(`${file}: cannot open (${code ?? (err as Error).message})`);
  }
}

/** Reads exactly dest.length bytes at `pos`, or says the file is truncated. */
async function readFully(fh: FileHandle, file: string, dest: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < dest.length) {
    const want = Math.min(dest.length - done, READ_CHUNK);
    const { bytesRead } = await fh.read(dest, done, want, pos + done);
    if (bytesRead === 0) throw new UserError(`${file}: truncated: ended at byte ${pos + done}, expected ${pos + dest.length}`);
    done += bytesRead;
  }
}

/** Reads and checks the header only (cheap: the tensor bytes are not touched). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(file);
  try {
    const fileSize = (await fh.stat()).size;
    if (fileSize === 0) throw new UserError(`${file}: file is empty (0 bytes), not a safetensors file`);
    if (fileSize < 8) throw new UserError(`${file}: truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
    const lenBytes = new Uint8Array(8);
    await readFully(fh, file, lenBytes, 0);
    const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (headerLen > MAX_HEADER_BYTES) throw new UserError(`${file}: not a safetensors file (header length ${headerLen} bytes is implausible)`);
    if (8 + headerLen > fileSize) {
      throw new UserError(`${file}: truncated or not a safetensors file: header claims ${headerLen} bytes but only ${fileSize - 8} follow the length`);
    }
    const headerBytes = new Uint8Array(headerLen);
    await readFully(fh, file, headerBytes, 8);
    return parseHeader(file, fileSize, headerBytes);
  } finally {
    await fh.close();
  }
}

function parseHeader(file: string, fileSize: number, headerBytes: Uint8Array): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new UserError(`${file}: bad safetensors header: not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UserError(`${file}: bad safetensors header: expected a JSON object`);
  }
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  const tensors: TensorEntry[] = [];
  let metadata: Record<string, string> | null = null;
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) metadata = raw as Record<string, string>;
      continue;
    }
    const bad = (why: string): never => { throw new UserError(`${file}: bad safetensors header: tensor ${name}: ${why}`); };
    if (raw === null || typeof raw !== 'object') bad('entry is not an object');
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string') bad('dtype missing');
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) bad('shape is not a list of non-negative integers');
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1]) {
      bad('data_offsets is not [begin, end]');
    }
    const dtype = e.dtype as string, shape = e.shape as number[], [b, end] = off as number[];
    const size = DTYPE_BYTES[dtype];
    if (size !== undefined && end - b !== numel(shape) * size) {
      bad(`${end - b} data bytes for shape ${formatShape(shape)} of ${dtype} (expected ${numel(shape) * size})`);
    }
    if (end > dataSize) {
      throw new UserError(`${file}: truncated: tensor ${name} needs data bytes up to ${end} but the file holds ${dataSize} (file size ${fileSize} bytes)`);
    }
    tensors.push({ name, dtype, shape, file, begin: dataStart + b, end: dataStart + end });
  }
  const byPos = [...tensors].sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < byPos.length; i++) {
    if (byPos[i].begin < byPos[i - 1].end && byPos[i].end > byPos[i].begin) {
      throw new UserError(`${file}: bad safetensors header: tensors ${byPos[i - 1].name} and ${byPos[i].name} overlap`);
    }
  }
  return { file, fileSize, dataStart, tensors, metadata };
}

/** Tensors read into memory; float data is converted to Float32Array on first use. */
export class TensorStore {
  private readonly items = new Map<string, { entry: TensorEntry; raw: Uint8Array | null; f32: Float32Array | null }>();

  /** @internal */
  add(entry: TensorEntry, raw: Uint8Array | null, f32: Float32Array | null): void {
    const prior = this.items.get(entry.name);
    if (prior) throw new UserError(`${entry.file}: tensor ${entry.name} also appears in ${prior.entry.file}`);
    this.items.set(entry.name, { entry, raw, f32 });
  }

  has(name: string): boolean { return this.items.has(name); }
  names(): string[] { return [...this.items.keys()]; }
  entry(name: string): TensorEntry { return this.item(name).entry; }
  shape(name: string): number[] { return [...this.item(name).entry.shape]; }

  /** The tensor as float32 (shared, do not mutate). */
  get(name: string): Float32Array {
    const it = this.item(name);
    if (it.f32) return it.f32;
    const { dtype, file } = it.entry;
    if (!it.raw || (dtype !== 'F16' && dtype !== 'BF16')) {
      throw new UserError(`${file}: tensor ${name} has dtype ${dtype}; starword reads only F32, F16 and BF16`);
    }
    it.f32 = dtype === 'F16' ? f16BytesToF32(it.raw) : bf16BytesToF32(it.raw);
    it.raw = null; // keep one copy only
    return it.f32;
  }

  private item(name: string) {
    const it = this.items.get(name);
    if (!it) throw new UserError(`no tensor named ${name}`);
    return it;
  }
}

export interface ReadOptions {
  /** Only tensors for which this is true are kept in memory (others are still hashed). */
  want?: (name: string) => boolean;
  /** Receives every byte of each file, in file order. */
  hash?: Hash;
}

/**
 * Streams the files behind `headers` (in the order given) into a TensorStore. Each file is read
 * front to back once; wanted tensors land in their own buffers, the rest only pass through the hash.
 */
export async function loadTensors(headers: SafetensorsHeader[], opts: ReadOptions = {}): Promise<TensorStore> {
  assertLittleEndianHost();
  const store = new TensorStore();
  const scratch = opts.hash ? new Uint8Array(1 << 22) : null;
  for (const header of headers) {
    const { file } = header;
    const fh = await openForRead(file);
    try {
      const size = (await fh.stat()).size;
      if (size !== header.fileSize) throw new UserError(`${file}: changed while being read (${header.fileSize} → ${size} bytes)`);
      const passThrough = async (from: number, to: number): Promise<void> => {
        if (!scratch || !opts.hash) return;
        for (let pos = from; pos < to; pos += scratch.length) {
          const piece = scratch.subarray(0, Math.min(scratch.length, to - pos));
          await readFully(fh, file, piece, pos);
          opts.hash.update(piece);
        }
      };
      const wanted = header.tensors.filter((t) => !opts.want || opts.want(t.name)).sort((a, b) => a.begin - b.begin);
      let cursor = 0;
      for (const t of wanted) {
        await passThrough(cursor, t.begin);
        const float = t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16';
        if (!float) {
          await passThrough(t.begin, t.end);
          store.add(t, null, null);
        } else {
          const f32 = t.dtype === 'F32' ? new Float32Array(numel(t.shape)) : null;
          const raw = f32 ? new Uint8Array(f32.buffer) : new Uint8Array(t.end - t.begin);
          await readFully(fh, file, raw, t.begin);
          opts.hash?.update(raw);
          store.add(t, f32 ? null : raw, f32);
        }
        cursor = t.end;
      }
      await passThrough(cursor, header.fileSize);
    } finally {
      await fh.close();
    }
  }
  return store;
}

/**
 * One tensor read from its file on demand, as float32 (F32, F16, BF16). Lets a model stay on disk
 * until a graph has to be built from it, and never when the graph is already cached.
 */
export function readTensorSync(entry: TensorEntry): Float32Array {
  assertLittleEndianHost();
  if (entry.dtype !== 'F32' && entry.dtype !== 'F16' && entry.dtype !== 'BF16') {
    throw new UserError(`${entry.file}: tensor ${entry.name} has dtype ${entry.dtype}; starword reads only F32, F16 and BF16`);
  }
  const raw = new Uint8Array(entry.end - entry.begin);
  let fd: number;
  try { fd = openSync(entry.file, 'r'); } catch (err) {
    throw new UserError(`${entry.file}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    let off = 0;
    while (off < raw.length) {
      const n = readSync(fd, raw, off, raw.length - off, entry.begin + off);
      if (n === 0) throw new UserError(`${entry.file}: truncated while reading tensor ${entry.name}`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  if (entry.dtype === 'F32') return new Float32Array(raw.buffer, 0, raw.length / 4);
  return entry.dtype === 'F16' ? f16BytesToF32(raw) : bf16BytesToF32(raw);
}

/** One safetensors file, every tensor (or those `want` keeps). */
export async function readSafetensors(file: string, opts: ReadOptions = {}): Promise<TensorStore> {
  return loadTensors([await readSafetensorsHeader(file)], opts);
}

export interface ShardIndex {
  indexFile: string;
  /** Shard files, absolute, unique, sorted by name (the order they are hashed in). */
  files: string[];
  /** tensor name → shard file (absolute). */
  weightMap: Map<string, string>;
}

/** Reads model.safetensors.index.json ({"weight_map": {tensor: shard file}}). */
export async function readShardIndex(indexFile: string): Promise<ShardIndex> {
  let text: string;
  try {
    text = await readFile(indexFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${indexFile}: ${code === 'ENOENT' ? 'file not found' : `cannot read (${code})`}`);
  }
  let json: unknown;
  try { json = JSON.parse(text); } catch (err) {
    throw new UserError(`${indexFile}: bad JSON (${(err as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new UserError(`${indexFile}: no "weight_map" object`);
  const dir = dirname(resolve(indexFile));
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') throw new UserError(`${indexFile}: weight_map entry ${name} is not a file name`);
    weightMap.set(name, join(dir, shard));
  }
  const files = [...new Set(weightMap.values())].sort();
  return { indexFile, files, weightMap };
}

/** The headers of every shard, checked against the index. */
export async function readShardHeaders(index: ShardIndex): Promise<SafetensorsHeader[]> {
  const headers: SafetensorsHeader[] = [];
  for (const f of index.files) {
    try {
      await stat(f);
    } catch {
      throw new UserError(`${index.indexFile}: names shard ${f}, which is missing`);
    }
    headers.push(await readSafetensorsHeader(f));
  }
  const where = new Map<string, string>();
  for (const h of headers) for (const t of h.tensors) where.set(t.name, h.file);
  for (const [name, f] of index.weightMap) {
    if (where.get(name) === undefined) throw new UserError(`${index.indexFile}: maps tensor ${name} to ${f}, which does not hold it`);
  }
  return headers;
}

/** A sharded checkpoint through its index file. */
export async function readShardedSafetensors(indexFile: string, opts: ReadOptions = {}): Promise<TensorStore> {
  return loadTensors(await readShardHeaders(await readShardIndex(indexFile)), opts);
}


// ---- writing -----------------------------------------------------------------------------------

export interface TensorToWrite {
  name: string; shape: number[];
  /** Stored dtype; F32 by default. */
  dtype?: FloatDtype;
  /**
   * The values, or a function that makes them when the writer reaches this tensor: the header (all
   * names and shapes) must precede the data, so a stream of tensors is a list of lazy producers.
   */
  data: Float32Array | (() => Float32Array | Promise<Float32Array>);
}

/**
 * Writes a safetensors file tensor by tensor, in the order given (at most one tensor's values held at a
 * time when `data` is a producer). Writes to a temporary name and renames, so a killed run leaves no
 * half file under the real name. Returns the file size in bytes.
 */
export async function writeSafetensors(file: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Promise<number> {
  assertLittleEndianHost();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (Object.hasOwn(header, t.name) || t.name === '__metadata__') throw new Error(`writeSafetensors: duplicate or reserved tensor name ${t.name}`);
    const dtype = t.dtype ?? 'F32';
    const bytes = numel(t.shape) * (dtype === 'F32' ? 4 : 2);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  // Pad with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  const rawLen = Buffer.byteLength(headerText);
  headerText += ' '.repeat((8 - ((8 + rawLen) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  await writeFileAtomicWithAsync(file, async (fh) => {
    await writeAll(fh, lenBytes);
    await writeAll(fh, headerBytes);
    const scratch = new Uint16Array(1 << 20);
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? await t.data() : t.data;
      if (data.length !== numel(t.shape)) {
        throw new Error(`writeSafetensors: tensor ${t.name} has ${data.length} values, shape ${formatShape(t.shape)} needs ${numel(t.shape)}`);
      }
      const dtype = t.dtype ?? 'F32';
      if (dtype === 'F32') {
        await writeAll(fh, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        continue;
      }
      const encode = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let start = 0; start < data.length; start += scratch.length) {
        const n = Math.min(scratch.length, data.length - start);
        for (let i = 0; i < n; i++) scratch[i] = encode(data[start + i]);
        await writeAll(fh, new Uint8Array(scratch.buffer, 0, n * 2));
      }
    }
  });
  return 8 + headerBytes.length + offset;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const n = Math.min(bytes.length - done, READ_CHUNK);
    const { bytesWritten } = await fh.write(bytes, done, n);
    done += bytesWritten;
  }
}
