/**
 * A caption file made into a phrase store (schemas/phrase-store.ts's direct parts), so that LinCIR's
 * trainer reads captions exactly as it reads phrases: row by row, memory flat in the number of captions.
 * Each caption's keyword is masked by the concept vocabulary (caption-mask.ts) and its target is the
 * unnormalised text feature of the unmasked caption, computed once by the model's text tower.
 *
 *   <dir>/source.json              what the store is made from: the caption file's sha256, the model's
 *                                  hash, the vocabulary's hash, the lines per part (written first)
 *   <dir>/store/phrases-NNNNN.*    the captions of lines [N·partLines, (N+1)·partLines) that hold a
 *                                  vocabulary name: texts, masked texts, targets (phrase-store files)
 *   <dir>/parts/NNNNN.json         that part's counts, written after its store files: the part is done
 *   <dir>/done.json                the totals, written last: the store is whole
 *
 * A rerun keeps every done part (its targets are not computed again) and goes on from the first part
 * without a marker; a store made from another file, model, vocabulary or part size is removed and made
 * again, with one line saying so. Only one part's captions and targets are held at a time.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PSEUDO_TOKEN_ID } from '../../clip/text/text-batch.ts';
import { DIRECT_SOURCE, conceptRuns, packTexts, writeStorePart } from '../../schemas/phrase-store.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { UserError } from '../../util/errors.ts';
import type { Vocabulary } from '../concepts/vocab.ts';
import { captionFormat, checkCaptionFile, hashCaptionFile, readCaptionLines } from './caption-file.ts';
import { VocabularyMasker } from './caption-mask.ts';

const FORMAT = 'starword-lincir-captions';
/** bump when the masking rule changes: a store masked by an older rule is made again */
const VERSION = 1;
export const CAPTION_PART_LINES = 8192;
/** the concept every caption row is filed under: the keyword is not kept per row (the index stays one run a part) */
export const CAPTION_CONCEPT = '(caption)';

export interface CaptionCounts {
  /** lines read */
  lines: number;
  /** blank lines (no caption) */
  blank: number;
  /** captions with no vocabulary name: skipped */
  noKeyword: number;
  /** captions whose `$` fell past the context length once tokenized: skipped (φ would have no say) */
  cut: number;
  /** captions kept: training rows */
  kept: number;
}

export interface CaptionStoreSource {
  format: typeof FORMAT;
  version: number;
  file: string;
  captionFormat: string;
  fileHash: string;
  modelHash: string;
  vocabHash: string;
  vocabSource: string;
  partLines: number;
}

export interface CaptionStoreSummary extends CaptionCounts {
  dir: string;
  source: CaptionStoreSource;
  parts: number;
  /** parts whose targets this call computed (the rest were kept from an earlier call) */
  partsBuilt: number;
}

export interface BuildCaptionStoreOptions {
  file: string;
  /** the store's folder (`<lincir out>/captions`) */
  dir: string;
  vocabulary: Vocabulary;
  modelHash: string;
  dim: number;
  /** the model's tokenizer: ids SOT … EOT, as the trainer tokenizes the masked text */
  tokenize: (text: string) => ArrayLike<number>;
  /** the model's text tower on token ids (unnormalised projected features) */
  encodeIds: (ids: Int32Array[]) => Promise<Float32Array[]>;
  partLines?: number;
  log?: (line: string) => void;
}

const zero = (): CaptionCounts => ({ lines: 0, blank: 0, noKeyword: 0, cut: 0, kept: 0 });
const add = (a: CaptionCounts, b: CaptionCounts) => { for (const k of Object.keys(a) as (keyof CaptionCounts)[]) a[k] += b[k]; };
const readJson = <T>(path: string): T | null => { try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return null; } };
const samesource = (a: CaptionStoreSource | null, b: CaptionStoreSource) => a !== null
  && (['format', 'version', 'fileHash', 'modelHash', 'vocabHash', 'partLines'] as const).every((k) => a[k] === b[k]);

export const partMarker = (dir: string, part: number) => join(dir, 'parts', `${String(part).padStart(5, '0')}.json`);

export async function buildCaptionStore(o: BuildCaptionStoreOptions): Promise<CaptionStoreSummary> {
  checkCaptionFile(o.file);
  const partLines = o.partLines ?? CAPTION_PART_LINES;
  const source: CaptionStoreSource = {
    format: FORMAT, version: VERSION, file: o.file, captionFormat: captionFormat(o.file), fileHash: await hashCaptionFile(o.file),
    modelHash: o.modelHash, vocabHash: o.vocabulary.hash, vocabSource: o.vocabulary.source, partLines,
  };
  const done = readJson<CaptionStoreSummary>(join(o.dir, 'done.json'));
  if (done && samesource(done.source, source)) return { ...done, dir: o.dir, partsBuilt: 0 };
  const previous = readJson<CaptionStoreSource>(join(o.dir, 'source.json'));
  if (existsSync(o.dir) && !samesource(previous, source)) {
    o.log?.(`lincir: ${o.dir} was made from another caption file, model or vocabulary: made again`);
    rmSync(o.dir, { recursive: true, force: true });
  }
  mkdirSync(join(o.dir, 'parts'), { recursive: true });
  writeFileAtomic(join(o.dir, 'source.json'), `${JSON.stringify(source, null, 2)}\n`);

  const masker = new VocabularyMasker(o.vocabulary.names);
  const totals = zero();
  let parts = 0, partsBuilt = 0;
  let part = -1, kept: { phrase: string; swapped: string }[] = [], counts = zero(), skipping = false;

  const finish = async () => {
    if (part < 0) return;
    parts++;
    if (skipping) return; // done before: its counts were read from its marker
    const ids = kept.map((r) => Int32Array.from(o.tokenize(r.phrase)));
    const targets = new Float32Array(kept.length * o.dim);
    for (let s = 0; s < ids.length; s += 256) {
      const feats = await o.encodeIds(ids.slice(s, s + 256));
      feats.forEach((f, k) => {
        if (f.length !== o.dim) throw new Error(`text features are ${f.length}-d, expected ${o.dim}-d`);
        targets.set(f, (s + k) * o.dim);
      });
    }
    if (kept.length) {
      writeStorePart(o.dir, part, {
        rows: kept.length, dim: o.dim, runs: conceptRuns(kept.map(() => CAPTION_CONCEPT)), targets,
        phrase: packTexts(kept.map((r) => r.phrase)), swapped: packTexts(kept.map((r) => r.swapped)),
      }, DIRECT_SOURCE, o.modelHash);
    }
    writeFileAtomic(partMarker(o.dir, part), `${JSON.stringify({ part, firstLine: part * partLines + 1, ...counts })}\n`);
    add(totals, counts);
    partsBuilt++;
    o.log?.(`lincir: captions part ${part}: ${counts.kept} of ${counts.lines} lines kept (${totals.kept} so far)`);
  };

  for await (const { line, caption } of readCaptionLines(o.file, source.captionFormat as 'lines' | 'jsonl')) {
    const p = Math.floor((line - 1) / partLines);
    if (p !== part) {
      await finish();
      part = p; kept = []; counts = zero();
      const marker = readJson<CaptionCounts>(partMarker(o.dir, p));
      skipping = marker !== null;
      if (marker) add(totals, { lines: marker.lines, blank: marker.blank, noKeyword: marker.noKeyword, cut: marker.cut, kept: marker.kept });
    }
    if (skipping) continue;
    counts.lines++;
    if (caption === null) { counts.blank++; continue; }
    // as LinCIR's clean_caption: a `$` of the caption itself would read as the pseudo-word
    const text = caption.replaceAll('$', '').trim();
    const m = text ? masker.mask(text) : null;
    if (!m) { counts.noKeyword++; continue; }
    if (!Array.prototype.includes.call(o.tokenize(m.masked), PSEUDO_TOKEN_ID)) { counts.cut++; continue; }
    counts.kept++;
    kept.push({ phrase: text, swapped: m.masked });
  }
  await finish();
  if (totals.kept === 0) {
    throw new UserError(`--captions ${o.file}: none of its ${totals.lines - totals.blank} captions holds a name of the vocabulary (${o.vocabulary.source}); pass another --vocab`);
  }
  const summary: CaptionStoreSummary = { ...totals, dir: o.dir, source, parts, partsBuilt };
  writeFileAtomic(join(o.dir, 'done.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
