/**
 * CLIP's byte-level BPE tokenizer, id for id OpenAI's SimpleTokenizer (and Hugging Face's CLIPTokenizer,
 * which shares its vocabulary). The vocabulary comes from OpenAI's merges file (vendored in data/) or a
 * model folder's vocab.json + merges.txt.
 */
import { packagePath } from '../../util/package-root.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError, errorMessage } from '../../util/errors.ts';
import { bytesToUnicode, byteVocabOrder, cleanText, splitPieces } from './bpe-text.ts';

const SOT_TOKEN = '<|startoftext|>';
const EOT_TOKEN = '<|endoftext|>';
/** The reference keeps this many merges: 49152 − 256 bytes − 2 specials (its slice [1:49152-256-2+1]). */
const MERGE_COUNT = 49152 - 256 - 2;
const DEFAULT_BPE_PATH = packagePath('data', 'clip-bpe-vocab-16e6.txt.gz');
/** Bounds the per-piece cache on endless streams of novel text; vocabularies of class names stay far below. */
const PIECE_CACHE_LIMIT = 1_000_000;
const OPENAI_BPE_NAME = 'bpe_simple_vocab_16e6.txt.gz';

const BYTE_ENCODER = bytesToUnicode();
const BYTE_DECODER = new Map<string, number>(BYTE_ENCODER.map((ch, b) => [ch, b]));
const UTF8 = new TextEncoder();

let defaultTokenizer: ClipTokenizer | undefined;

export class ClipTokenizer {
  readonly sot: number;
  readonly eot: number;
  readonly vocabSize: number;
  private readonly encoder: Map<string, number>;
  // built on the first decode: most commands only encode, and startup time counts for shell loops
  private decoderMap: Map<number, string> | undefined;
  /** Merge rank by 'first second' (vocabulary symbols never hold a space: byte 0x20 is 'Ġ'). */
  private readonly ranks: Map<string, number>;
  /** Piece (before byte mapping) → its ids; pieces repeat across texts, so BPE runs once per piece. */
  private readonly pieceCache = new Map<string, number[]>();

  private constructor(encoder: Map<string, number>, merges: [string, string][]) {
    this.encoder = encoder;
    this.ranks = new Map();
    merges.forEach(([a, b], rank) => this.ranks.set(`${a} ${b}`, rank));
    const sot = encoder.get(SOT_TOKEN);
    const eot = encoder.get(EOT_TOKEN);
    if (sot === undefined || eot === undefined) throw new UserError(`tokenizer vocabulary lacks ${SOT_TOKEN} or ${EOT_TOKEN}`);
    this.sot = sot;
    this.eot = eot;
    let maxId = -1;
    for (const id of encoder.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
  }

  private decoder(): Map<number, string> {
    if (!this.decoderMap) {
      this.decoderMap = new Map();
      for (const [token, id] of this.encoder) this.decoderMap.set(id, token);
    }
    return this.decoderMap;
  }

  /** The vendored OpenAI vocabulary, loaded once. */
  static default(): ClipTokenizer {
    defaultTokenizer ??= ClipTokenizer.fromBpeFile(DEFAULT_BPE_PATH);
    return defaultTokenizer;
  }

  /** OpenAI's gzipped merges file (bpe_simple_vocab_16e6.txt.gz): the vocabulary is built from the merges as the reference does. */
  static fromBpeFile(bpeGzPath: string): ClipTokenizer {
    let text: string;
    try {
      text = gunzipSync(readFileSync(bpeGzPath)).toString('utf8');
    } catch (err) {
      throw new UserError(`cannot read BPE file ${bpeGzPath}: ${errorMessage(err)}`);
    }
    const merges = parseMerges(text.split('\n').slice(1, MERGE_COUNT + 1), bpeGzPath);
    const bytes = byteVocabOrder();
    const vocab = [...bytes, ...bytes.map((b) => `${b}</w>`), ...merges.map(([a, b]) => a + b), SOT_TOKEN, EOT_TOKEN];
    const encoder = new Map<string, number>();
    vocab.forEach((token, id) => encoder.set(token, id));
    return new ClipTokenizer(encoder, merges);
  }

  /** Hugging Face's vocab.json (token → id) and merges.txt ('#version' header, then one merge a line). */
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string): ClipTokenizer {
    let vocab: unknown;
    let mergesText: string;
    try {
      vocab = JSON.parse(readFileSync(vocabJsonPath, 'utf8'));
    } catch (err) {
      throw new UserError(`cannot read ${vocabJsonPath}: ${errorMessage(err)}`);
    }
    try {
      mergesText = readFileSync(mergesTxtPath, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read ${mergesTxtPath}: ${errorMessage(err)}`);
    }
    if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
      throw new UserError(`${vocabJsonPath}: expected a JSON object mapping tokens to ids`);
    }
    const encoder = new Map<string, number>();
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) throw new UserError(`${vocabJsonPath}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
      encoder.set(token, id as number);
    }
    // As CLIPTokenizer: strip, split lines, drop the header, keep at most MERGE_COUNT.
    let lines = mergesText.trim().split('\n');
    if (lines[0]?.startsWith('#')) lines = lines.slice(1);
    const merges = parseMerges(lines.slice(0, MERGE_COUNT), mergesTxtPath);
    for (const [a, b] of merges) {
      if (!encoder.has(a + b)) throw new UserError(`${mergesTxtPath}: merge "${a} ${b}" makes a token missing from ${vocabJsonPath}`);
    }
    return new ClipTokenizer(encoder, merges);
  }

  /** A model folder's tokenizer: vocab.json + merges.txt, else OpenAI's BPE file, else the vendored vocabulary. */
  static async forModelDir(dir: string): Promise<ClipTokenizer> {
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new UserError(`model folder ${dir} does not exist or is not a folder`);
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    const hasVocab = existsSync(vocabPath);
    const hasMerges = existsSync(mergesPath);
    if (hasVocab && hasMerges) return ClipTokenizer.fromFiles(vocabPath, mergesPath);
    if (hasVocab !== hasMerges) {
      throw new UserError(`model folder ${dir} has ${hasVocab ? 'vocab.json but no merges.txt' : 'merges.txt but no vocab.json'}`);
    }
    const bpePath = join(dir, OPENAI_BPE_NAME);
    if (existsSync(bpePath) && statSync(bpePath).isFile()) return ClipTokenizer.fromBpeFile(bpePath);
    return ClipTokenizer.default();
  }

  /** BPE ids of the text, without SOT/EOT. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of splitPieces(cleanText(text))) {
      for (const id of this.pieceIds(piece)) ids.push(id);
    }
    return ids;
  }

  /** SOT, ids, EOT, zero-padded to contextLength; an over-long text keeps contextLength−2 ids then EOT (truncate=True). */
  tokenize(text: string, contextLength = 77): Int32Array {
    if (!Number.isInteger(contextLength) || contextLength < 2) throw new RangeError(`context length must be an integer ≥ 2, got ${contextLength}`);
    // The reference cuts [SOT, ids…, EOT] to contextLength and sets the last to EOT: contextLength−2 ids stay.
    const row = new Int32Array(contextLength);
    row[0] = this.sot;
    let n = 1;
    fill: for (const piece of splitPieces(cleanText(text))) {
      for (const id of this.pieceIds(piece)) {
        if (n === contextLength - 1) break fill;
        row[n++] = id;
      }
    }
    row[n] = this.eot;
    return row;
  }

  tokenizeBatch(texts: string[], contextLength = 77): Int32Array[] {
    return texts.map((t) => this.tokenize(t, contextLength));
  }

  /** Text of the ids as the reference decodes it: bytes joined, UTF-8 with replacement, '</w>' → ' '. */
  decode(ids: ArrayLike<number>): string {
    let symbols = '';
    for (let i = 0; i < ids.length; i++) {
      const token = this.decoder().get(ids[i]);
      if (token === undefined) throw new RangeError(`token id ${ids[i]} is not in the vocabulary`);
      symbols += token;
    }
    const bytes: number[] = [];
    for (const ch of symbols) {
      const b = BYTE_DECODER.get(ch);
      if (b === undefined) throw new RangeError(`vocabulary symbol ${JSON.stringify(ch)} is not a byte character`);
      bytes.push(b);
    }
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes)).replaceAll('</w>', ' ');
  }

  idOf(token: string): number | undefined {
    return this.encoder.get(token);
  }

  private pieceIds(piece: string): number[] {
    let ids = this.pieceCache.get(piece);
    if (ids === undefined) {
      ids = this.encodePiece(piece);
      if (this.pieceCache.size >= PIECE_CACHE_LIMIT) this.pieceCache.clear();
      this.pieceCache.set(piece, ids);
    }
    return ids;
  }

  private encodePiece(piece: string): number[] {
    // The reference's cache maps the special tokens to themselves: they are never split.
    if (piece === SOT_TOKEN || piece === EOT_TOKEN) return [this.encoder.get(piece)!];
    let mapped = '';
    for (const b of UTF8.encode(piece)) mapped += BYTE_ENCODER[b];
    return this.bpe(mapped).map((symbol) => {
      const id = this.encoder.get(symbol);
      if (id === undefined) throw new UserError(`tokenizer vocabulary lacks the symbol ${JSON.stringify(symbol)}`);
      return id;
    });
  }

  /** The reference's bpe(): merge the lowest-ranked adjacent pair, all its occurrences left to right, until none ranks. */
  private bpe(token: string): string[] {
    const word = Array.from(token);
    word[word.length - 1] += '</w>';
    if (word.length === 1) return word;
    let symbols = word;
    while (symbols.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < best) {
          best = rank;
          first = symbols[i];
          second = symbols[i + 1];
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length;) {
        if (symbols[i] === first && i < symbols.length - 1 && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(symbols[i]);
          i += 1;
        }
      }
      symbols = merged;
    }
    return symbols;
  }
}

function parseMerges(lines: string[], path: string): [string, string][] {
  return lines.map((line, i) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new UserError(`${path}: merge line ${i + 2} is not two symbols: ${JSON.stringify(line)}`);
    return [parts[0], parts[1]];
  });
}
