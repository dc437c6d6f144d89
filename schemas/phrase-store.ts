/**
 * The phrase store: the phrases folder as OTI and phi read it, with memory that does not grow with the
 * phrases. Beside each `phrases-NNNNN.arrow` part (the export pyarrow reads) it keeps, in
 * `<phrases>/store/`, flat files addressed by row:
 *   phrases-NNNNN.targets.f32            rows × dim float32, little endian: the L_gpt targets, ONLY when
 *                                        the store computed them (a part made without a model). A part
 *                                        with its own targets keeps them once, in the Arrow file: the
 *                                        index records where each record batch's float32 values lie there
 *                                        (`arrowTargets`) and a target is read from the part by position
 *   phrases-NNNNN.{phrase,swapped}.bin   the texts' UTF-8 bytes, back to back
 *   phrases-NNNNN.{phrase,swapped}.off   rows + 1 float64 byte offsets into the .bin
 *   phrases-NNNNN.index.json             written last (the done marker): rows, dim, the concepts' row runs,
 *                                        and `source`, the sha256 of the Arrow part's stats marker it was made from
 * Opening the store reads the indexes (concept → part, row range) and hashes each Arrow part in chunks
 * against its marker (a same-size damage is quarantined, see part-io.ts); a phrase's texts and target are
 * read with positioned reads when a step draws it. A part whose sidecar is missing or was made from
 * another version of the part is rebuilt from the Arrow part when the store is opened, so folders written
 * before the store existed keep working. A store written directly (`source: "store"`, the scale
 * benchmark) needs no Arrow part.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { sha256 } from '../util/hash.ts';
import { UserError } from '../util/errors.ts';
import { checkKind, readStrings } from './columns.ts';
import { recordBatchBuffers } from './arrow-regions.ts';
import { checkPart, listDoneParts, partModelHash, quarantinePart, partName, partPaths, readPart, readPartStats } from './part-io.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import * as phrasesSchema from './phrases.ts';

export const STORE_DIR = 'store';
const STORE_VERSION = 1;
/** `source` of a store part written directly, without an Arrow part beside it */
export const DIRECT_SOURCE = 'store';

/** A run of consecutive rows of one concept in one part. */
export interface PhraseRange { part: number; start: number; count: number }

interface StoreIndex {
  format: 'starword-phrase-store';
  version: number;
  part: number;
  source: string;
  rows: number;
  dim: number;
  /** [concept, first row, rows], in row order */
  runs: [string, number, number][];
  /** the swap mode of a store written directly (an Arrow part's marker records its own) */
  swap?: string;
  /** the model whose encoder computed the targets here (when the Arrow part has none of its own) */
  modelHash?: string;
  /** the targets in the Arrow part: [first row, rows, byte offset in the .arrow file] per record batch */
  arrowTargets?: [number, number, number][];
}

/** One part's content, as the writer takes it. */
export interface StorePartData {
  rows: number;
  dim: number;
  runs: [string, number, number][];
  /** rows × dim values; empty when `targetsInArrow` */
  targets: Float32Array;
  /** every row's target is in the Arrow part's column: the store reads them there, holding no copy */
  targetsInArrow?: boolean;
  phrase: { bytes: Uint8Array; offsets: Float64Array };
  swapped: { bytes: Uint8Array; offsets: Float64Array };
}

type FileKind = 'targets.f32' | 'phrase.bin' | 'phrase.off' | 'swapped.bin' | 'swapped.off' | 'index.json';

export function storeFile(phrasesDir: string, part: number, kind: FileKind): string {
  return join(phrasesDir, STORE_DIR, `${partName(phrasesSchema.KIND, part)}.${kind}`);
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Writes one store part; its index last, so a store part with an index is complete. */
export function writeStorePart(phrasesDir: string, part: number, data: StorePartData, source: string, modelHash?: string): void {
  const arrowTargets = data.targetsInArrow ? targetRegions(phrasesDir, part, data.rows, data.dim) : undefined;
  if (!arrowTargets && data.targets.length !== data.rows * data.dim) throw new Error(`phrase store: ${data.targets.length} target values for ${data.rows} × ${data.dim}`);
  for (const t of [data.phrase, data.swapped]) {
    if (t.offsets.length !== data.rows + 1) throw new Error(`phrase store: ${t.offsets.length} offsets for ${data.rows} rows`);
  }
  mkdirSync(join(phrasesDir, STORE_DIR), { recursive: true });
  if (arrowTargets) rmSync(storeFile(phrasesDir, part, 'targets.f32'), { force: true });
  else writeFileAtomic(storeFile(phrasesDir, part, 'targets.f32'), bytesOf(data.targets));
  writeFileAtomic(storeFile(phrasesDir, part, 'phrase.bin'), data.phrase.bytes);
  writeFileAtomic(storeFile(phrasesDir, part, 'phrase.off'), bytesOf(data.phrase.offsets));
  writeFileAtomic(storeFile(phrasesDir, part, 'swapped.bin'), data.swapped.bytes);
  writeFileAtomic(storeFile(phrasesDir, part, 'swapped.off'), bytesOf(data.swapped.offsets));
  const index: StoreIndex = {
    format: 'starword-phrase-store', version: STORE_VERSION, part, source, rows: data.rows, dim: data.dim, runs: data.runs,
    ...(modelHash ? { modelHash } : {}), ...(arrowTargets ? { arrowTargets } : {}),
  };
  writeFileAtomic(storeFile(phrasesDir, part, 'index.json'), JSON.stringify(index));
}

/**
 * Where the target values of each record batch of the phrases part lie in its .arrow file. The target
 * column is the schema's last (schemas/phrases.ts), so its float32 values are each batch's last buffer.
 */
function targetRegions(phrasesDir: string, part: number, rows: number, dim: number): [number, number, number][] {
  const path = partPaths(phrasesDir, phrasesSchema.KIND, part).arrow;
  const out: [number, number, number][] = [];
  let first = 0;
  for (const b of recordBatchBuffers(path)) {
    const values = b.buffers[b.buffers.length - 1];
    if (!values || values.length < b.rows * dim * 4) throw new Error(`${path}: a record batch of ${b.rows} rows holds no ${dim}-d float32 targets last`);
    if (b.rows > 0) out.push([first, b.rows, values.offset]);
    first += b.rows;
  }
  if (first !== rows) throw new Error(`${path}: ${first} rows in its record batches, ${rows} expected`);
  return out;
}

/** Deletes a store part's files (its Arrow part is gone). */
export function removeStorePart(phrasesDir: string, part: number): void {
  for (const k of ['index.json', 'targets.f32', 'phrase.bin', 'phrase.off', 'swapped.bin', 'swapped.off'] as const) {
    rmSync(storeFile(phrasesDir, part, k), { force: true });
  }
}

/** Runs of equal consecutive values. */
export function conceptRuns(concepts: readonly string[]): [string, number, number][] {
  const runs: [string, number, number][] = [];
  concepts.forEach((c, i) => {
    const last = runs[runs.length - 1];
    if (last && last[0] === c) last[2]++;
    else runs.push([c, i, 1]);
  });
  return runs;
}

/** UTF-8 bytes and offsets of strings. */
export function packTexts(texts: readonly string[]): { bytes: Uint8Array; offsets: Float64Array } {
  const enc = new TextEncoder();
  const parts = texts.map((t) => enc.encode(t));
  const offsets = new Float64Array(texts.length + 1);
  parts.forEach((p, i) => { offsets[i + 1] = offsets[i] + p.length; });
  const bytes = new Uint8Array(offsets[texts.length]);
  parts.forEach((p, i) => bytes.set(p, offsets[i]));
  return { bytes, offsets };
}

/** The texts of a utf8 column straight from its buffers, across record batches (no string decoding). */
function columnTexts(table: Table, name: string): { bytes: Uint8Array; offsets: Float64Array } {
  const col = table.getChild(name);
  if (!col) throw new Error(`phrases part lacks column '${name}'`);
  const offsets = new Float64Array(table.numRows + 1);
  const chunks: Uint8Array[] = [];
  let row = 0, base = 0;
  for (const d of col.data) {
    const off = d.valueOffsets as Int32Array;
    const first = off[0], last = off[d.length];
    for (let i = 0; i < d.length; i++) offsets[row + i + 1] = base + off[i + 1] - first;
    chunks.push((d.values as Uint8Array).subarray(first, last));
    base += last - first;
    row += d.length;
  }
  const bytes = new Uint8Array(base);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return { bytes, offsets };
}

/**
 * A store part from a phrases table. Rows without a target (phrases made without a model) get theirs
 * from `encode`, or the call fails naming the folder.
 */
export async function storeDataFromTable(table: Table, dim: number, encode: ((texts: string[]) => Promise<Float32Array[]>) | undefined,
  where: string): Promise<StorePartData> {
  checkKind(table, phrasesSchema.KIND);
  const rows = table.numRows;
  const stored = phrasesSchema.targetDim(table);
  if (stored !== null && stored !== dim) {
    throw new UserError(`phrases in ${where} carry ${stored}-d targets, the model's features are ${dim}-d: made with another model`);
  }
  const col0 = stored !== null ? table.getChild('target') : null;
  if (col0 && col0.nullCount === 0) {
    // every target is in the part: read from there, never copied (see the file's comment)
    return {
      rows, dim, targets: new Float32Array(0), targetsInArrow: true, runs: conceptRuns(readStrings(table, 'concept').map((c) => c ?? '')),
      phrase: columnTexts(table, 'phrase'), swapped: columnTexts(table, 'swapped'),
    };
  }
  // straight from the column's buffers: no per-row copies of a part that may hold 256k targets
  const targets = new Float32Array(rows * dim);
  const missing: number[] = [];
  const col = stored !== null ? table.getChild('target') : null;
  if (col) {
    let row = 0;
    for (const d of col.data) {
      const values = d.children[0].values as Float32Array;
      for (let i = 0; i < d.length; i++, row++) {
        if (d.getValid(i)) targets.set(values.subarray(i * dim, (i + 1) * dim), row * dim);
        else missing.push(row);
      }
    }
  } else for (let i = 0; i < rows; i++) missing.push(i);
  if (missing.length) {
    if (!encode) throw new UserError(`phrases in ${where} lack target features and no text encoder was given`);
    const phrases = readStrings(table, 'phrase');
    for (let s = 0; s < missing.length; s += 256) {
      const idx = missing.slice(s, s + 256);
      const feats = await encode(idx.map((i) => phrases[i] ?? ''));
      idx.forEach((r, k) => {
        if (feats[k].length !== dim) throw new UserError(`text features are ${feats[k].length}-d, expected ${dim}-d`);
        targets.set(feats[k], r * dim);
      });
    }
  }
  return {
    rows, dim, targets, runs: conceptRuns(readStrings(table, 'concept').map((c) => c ?? '')),
    phrase: columnTexts(table, 'phrase'), swapped: columnTexts(table, 'swapped'),
  };
}

/** The sha256 of a phrases part's stats marker: what a store part says it was made from. */
export function partSource(phrasesDir: string, part: number): string {
  return sha256(readFileSync(partPaths(phrasesDir, phrasesSchema.KIND, part).stats));
}

/**
 * Targets are read from the Arrow part by position, past readPart's check: its content is checked
 * against its marker when the store opens, and a damaged part is quarantined (see part-io.ts) so that
 * the phrases stage redoes it, with one line saying so.
 */
function checkPartContent(phrasesDir: string, part: number): void {
  // a marker of a starword older than content hashes has none to check against (the phrases stage adopts it)
  if (readPartStats(phrasesDir, phrasesSchema.KIND, part).sha256 === undefined) return;
  // the hash read in chunks: opening the store still holds no part in memory
  const check = checkPart(phrasesDir, phrasesSchema.KIND, part, { level: 'hash' });
  if (check === 'ok') return;
  const aside = check.path === partPaths(phrasesDir, phrasesSchema.KIND, part).arrow ? quarantinePart(phrasesDir, phrasesSchema.KIND, part) : null;
  throw new UserError(`${check.path}: ${check.reason}; ${aside ? `moved aside to ${aside}; ` : ''}rerun the phrases stage to redo it`);
}

/**
 * Refuses (one line naming the marker) a phrases part whose targets another model embedded than
 * `modelHash`. Returns whether the part's marker says it carries targets of its own.
 */
function checkPartTargetsModel(phrasesDir: string, part: number, modelHash: string | undefined): boolean {
  const stats = readPartStats(phrasesDir, phrasesSchema.KIND, part);
  const ownTargets = typeof stats.targetDim === 'number' || partModelHash(stats) !== null;
  const recorded = partModelHash(stats);
  if (modelHash !== undefined && recorded !== null && recorded !== modelHash) {
    const short = (h: string) => (h.length > 16 ? h.slice(0, 16) : h);
    throw new UserError(`${partPaths(phrasesDir, phrasesSchema.KIND, part).stats}: phrases embedded by another model (${short(recorded)}, `
      + `this model is ${short(modelHash)}); make the phrases again with this model (starword phrases --model DIR) or use the model they were made with`);
  }
  return ownTargets;
}

/** 'searle' for a marker written before swap modes were recorded. */
function knownSwap(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v : 'searle';
}

/** The swap mode a phrases part's marker records (see stages/phrases/run-phrases.ts). */
export function partSwapMode(phrasesDir: string, part: number): string {
  return knownSwap(readPartStats(phrasesDir, phrasesSchema.KIND, part).swap);
}

/** The part's index when it and the files it names are whole (sizes checked); else null. */
function readIndex(phrasesDir: string, part: number): StoreIndex | null {
  const file = storeFile(phrasesDir, part, 'index.json');
  if (!existsSync(file)) return null;
  try {
    const ix = JSON.parse(readFileSync(file, 'utf8')) as StoreIndex;
    if (ix.format !== 'starword-phrase-store' || ix.version !== STORE_VERSION) return null;
    const size = (k: FileKind) => statSync(storeFile(phrasesDir, part, k)).size;
    if (ix.arrowTargets) {
      const end = ix.arrowTargets.reduce((m, [, rows, at]) => Math.max(m, at + rows * ix.dim * 4), 0);
      if (ix.arrowTargets.reduce((n, [, rows]) => n + rows, 0) !== ix.rows || statSync(partPaths(phrasesDir, phrasesSchema.KIND, part).arrow).size < end) return null;
    } else if (size('targets.f32') !== ix.rows * ix.dim * 4) return null;
    if (size('phrase.off') !== (ix.rows + 1) * 8 || size('swapped.off') !== (ix.rows + 1) * 8) return null;
    size('phrase.bin'); size('swapped.bin');
    return ix;
  } catch {
    return null; // a damaged or partial store part is rebuilt, never trusted
  }
}

/** Indices of the store parts written directly (no Arrow part). */
function directParts(phrasesDir: string): number[] {
  const dir = join(phrasesDir, STORE_DIR);
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${phrasesSchema.KIND}-(\\d{5,})\\.index\\.json$`);
  return readdirSync(dir).map((n) => re.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]))
    .filter((i) => {
      try { return (JSON.parse(readFileSync(storeFile(phrasesDir, i, 'index.json'), 'utf8')) as StoreIndex).source === DIRECT_SOURCE; } catch { return false; }
    });
}

export interface OpenStoreOptions {
  /** the model's feature dim: targets of another dim are refused */
  dim: number;
  /** computes target features of phrases stored without them (only when a store part must be built) */
  encode?: (texts: string[]) => Promise<Float32Array[]>;
  /**
   * the model the reader runs (its hash): phrases whose targets another model embedded are refused;
   * targets this store computed with another model's encoder are computed again
   */
  modelHash?: string;
  log?: (line: string) => void;
}

/** Reads phrases by concept, texts and targets by row; holds only the index and open file handles. */
export class PhraseStore {
  private readonly byConcept = new Map<string, PhraseRange[]>();
  private readonly counts = new Map<string, number>();
  private readonly fds = new Map<string, number>();
  private readonly swaps = new Map<number, string>();
  /** parts whose targets are read from their Arrow file: the regions of the index */
  private readonly arrowTargets = new Map<number, [number, number, number][]>();
  phraseCount = 0;
  partsBuilt = 0;
  /** the parts and their rows, in part order (row-wise readers address phrases by part and row) */
  readonly parts: { part: number; rows: number }[] = [];
  /** a hash of what the store was read from (each part's index and source) */
  identity = '';

  private constructor(readonly dir: string, readonly dim: number) {}

  static async open(dir: string, o: OpenStoreOptions): Promise<PhraseStore> {
    const store = new PhraseStore(dir, o.dim);
    const parts = existsSync(dir) ? listDoneParts(dir, phrasesSchema.KIND) : [];
    const direct = directParts(dir).filter((i) => !parts.includes(i));
    if (!parts.length && !direct.length) throw new UserError(`no finished phrases parts in ${dir}: run the phrases stage first`);
    const sources: string[] = [];
    for (const part of [...parts, ...direct].sort((a, b) => a - b)) {
      let ix = readIndex(dir, part);
      if (parts.includes(part)) {
        checkPartContent(dir, part);
        const source = partSource(dir, part);
        const ownTargets = checkPartTargetsModel(dir, part, o.modelHash);
        const otherEncoder = !ownTargets && o.modelHash !== undefined && ix?.modelHash !== undefined && ix.modelHash !== o.modelHash;
        if (!ix || ix.source !== source || otherEncoder) {
          o.log?.(`phrases: indexing part ${part} of ${dir} for random access`);
          const table = readPart(dir, phrasesSchema.KIND, part);
          const computesTargets = phrasesSchema.targetDim(table) === null;
          writeStorePart(dir, part, await storeDataFromTable(table, o.dim, o.encode, dir), source, computesTargets ? o.modelHash : undefined);
          store.partsBuilt++;
          ix = readIndex(dir, part)!;
        }
      }
      if (!ix) throw new UserError(`phrase store part ${storeFile(dir, part, 'index.json')} is damaged (files missing or cut short) and has no Arrow part to rebuild it from`);
      if (ix.dim !== o.dim) {
        throw new UserError(`phrases in ${dir} carry ${ix.dim}-d targets, the model's features are ${o.dim}-d: made with another model`);
      }
      for (const [concept, start, count] of ix.runs) {
        let list = store.byConcept.get(concept);
        if (!list) store.byConcept.set(concept, (list = []));
        list.push({ part, start, count });
        store.counts.set(concept, (store.counts.get(concept) ?? 0) + count);
      }
      if (ix.arrowTargets) store.arrowTargets.set(part, ix.arrowTargets);
      store.swaps.set(part, parts.includes(part) ? partSwapMode(dir, part) : knownSwap(ix.swap));
      store.phraseCount += ix.rows;
      store.parts.push({ part, rows: ix.rows });
      sources.push(`${part}:${ix.source}:${ix.rows}`);
    }
    store.identity = sha256(sources.join('\n'));
    return store;
  }

  get conceptCount(): number { return this.byConcept.size; }

  /** Phrases of a concept (0 when it has none). */
  count(concept: string): number { return this.counts.get(concept) ?? 0; }

  ranges(concept: string): readonly PhraseRange[] { return this.byConcept.get(concept) ?? []; }

  /** The target of a row into `out` (a fresh array by default). */
  target(part: number, row: number, out = new Float32Array(this.dim)): Float32Array {
    const regions = this.arrowTargets.get(part);
    if (!regions) {
      this.readAt(part, 'targets.f32', bytesOf(out), row * this.dim * 4);
      return out;
    }
    const r = regions.find(([first, rows]) => row >= first && row < first + rows);
    if (!r) throw new Error(`phrase store: row ${row} of part ${part} is in none of its record batches`);
    this.readFileAt(partPaths(this.dir, phrasesSchema.KIND, part).arrow, bytesOf(out), r[2] + (row - r[0]) * this.dim * 4);
    return out;
  }

  /**
   * The swap mode the part's phrases were made with (clip/text/pseudo-word-swap.ts's SwapMode, as its marker
   * records it; 'searle' when it records none).
   */
  swapMode(part: number): string { return this.swaps.get(part) ?? 'searle'; }

  phrase(part: number, row: number): string { return this.text(part, row, 'phrase'); }
  swapped(part: number, row: number): string { return this.text(part, row, 'swapped'); }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private text(part: number, row: number, which: 'phrase' | 'swapped'): string {
    const off = new Float64Array(2);
    this.readAt(part, `${which}.off`, bytesOf(off), row * 8);
    const bytes = new Uint8Array(off[1] - off[0]);
    this.readAt(part, `${which}.bin`, bytes, off[0]);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }

  private readAt(part: number, kind: FileKind, into: Uint8Array, position: number): void {
    this.readFileAt(storeFile(this.dir, part, kind), into, position);
  }

  private readFileAt(file: string, into: Uint8Array, position: number): void {
    let fd = this.fds.get(file);
    if (fd === undefined) this.fds.set(file, (fd = openSync(file, 'r')));
    let got = 0;
    while (got < into.length) {
      const n = readSync(fd, into, got, into.length - got, position + got);
      if (n === 0) throw new Error(`phrase store: ${file} ends before byte ${position + into.length}: damaged; delete ${join(this.dir, STORE_DIR)} to rebuild it`);
      got += n;
    }
  }
}
