/**
 * The LinCIR stage over a run folder, a merged corpus or a phrases folder, and/or a caption file (its
 * keywords masked by the concept vocabulary, its targets computed once into <out>/captions, a phrase
 * store: caption-store.ts): the stores' rows (masked text, target feature), training (resumable), then
 * the exports and the report:
 *   <out>/lincir.onnx (+ .data), <out>/lincir.safetensors (SEARLE's Phi layout), <out>/lincir.pt
 *   (LinCIR's {'epoch', 'Phi'}), <out>/metrics.arrow, <out>/losses.svg + .png,
 *   <out>/checkpoints/epoch-NNNNN.safetensors, <out>/summary.json
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import type { LincirMetricsRow } from '../../schemas/lincir-metrics.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { PhraseStore, STORE_DIR } from '../../schemas/phrase-store.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { exportLincirCheckpoint, exportLincirOnnx, exportLincirSafetensors } from './export.ts';
import { type LincirOptions, lincirOptionsSchema } from './options.ts';
import { PhraseRows } from './phrase-rows.ts';
import { METRICS_FILE, PLOT_PNG, writeMetricsReport } from './report.ts';
import { trainLincir } from './train.ts';

import { CAPTIONS_DIR, LINCIR_CHECKPOINT, LINCIR_ONNX, LINCIR_SAFETENSORS } from './files.ts';
import { checkCaptionFile } from './caption-file.ts';
import { type CaptionStoreSummary, buildCaptionStore } from './caption-store.ts';
import { describeVocabulary, loadVocabulary } from '../concepts/vocab.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';

export { CAPTIONS_DIR, LINCIR_CHECKPOINT, LINCIR_ONNX, LINCIR_SAFETENSORS } from './files.ts';

export interface RunLincirOptions {
  /** a run folder, a merged corpus (DIR/corpus or DIR), or a phrases folder; optional with `options.captions` */
  source?: string;
  outDir: string;
  src: WeightSource;
  tokenize: (text: string) => ArrayLike<number>;
  /** computes target features of phrases stored without them (only when a store part is built) */
  encode?: (texts: string[]) => Promise<Float32Array[]>;
  /** the text tower on token ids, for the targets of `options.captions` (default: one opened on `src`) */
  encodeIds?: (ids: Int32Array[]) => Promise<Float32Array[]>;
  options: LincirOptions;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  stopAfterEpoch?: number;
}

export interface LincirSummary {
  outDir: string;
  /** the run's phrases folder, null when trained on captions alone */
  phrasesDir: string | null;
  /** the caption file's store and counts, null without --captions */
  captions: CaptionStoreSummary | null;
  phrases: number; train: number; heldOut: number;
  steps: number;
  resumedFrom: number | null;
  roundsRunNow: number;
  withoutPseudoWord: number;
  last: LincirMetricsRow | null;
  files: { onnx: string; safetensors: string; checkpoint: string; metrics: string; plot: string };
}

const isPhrasesDir = (dir: string) => existsSync(dir) && statSync(dir).isDirectory()
  && (existsSync(join(dir, STORE_DIR)) || readdirSync(dir).some((n) => /^phrases-\d+\.arrow$/.test(n)));

/** The phrases folder of a run, a corpus (DIR/corpus or DIR) or the folder itself. */
export function locatePhrases(source: string): string {
  for (const dir of [join(source, 'phrases'), join(source, 'corpus', 'phrases'), source]) if (isPhrasesDir(dir)) return dir;
  throw new UserError(`${source}: no phrases folder (looked for ${join(source, 'phrases')}, ${join(source, 'corpus', 'phrases')} and the folder itself): run the phrases stage first`);
}

export async function runLincir(r: RunLincirOptions): Promise<LincirSummary> {
  const parsed = lincirOptionsSchema.safeParse(r.options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`lincir option ${issue.path.join('.')}: ${issue.message}`);
  }
  const o = parsed.data;
  if (r.source === undefined && o.captions === undefined) throw new UserError('lincir: give a run or corpus to train on, or --captions FILE');
  if (o.vocab !== undefined && o.captions === undefined) throw new UserError('lincir: --vocab masks the keywords of --captions; give --captions FILE too');
  const phrasesDir = r.source !== undefined ? locatePhrases(r.source) : null;
  const captions = o.captions !== undefined ? await captionStore(r, o.captions, o.vocab) : null;
  const stores: PhraseStore[] = [];
  try {
    if (phrasesDir) stores.push(await PhraseStore.open(phrasesDir, { dim: r.src.config.projectionDim, encode: r.encode, log: r.log }));
    if (captions) stores.push(await PhraseStore.open(captions.dir, { dim: r.src.config.projectionDim, modelHash: r.src.hash, log: r.log }));
    const total = stores.reduce((n, st) => n + st.phraseCount, 0);
    if (total < 2) throw new UserError(`${phrasesDir ?? o.captions}: ${total} phrase(s): LinCIR needs at least 2`);
    const rows = new PhraseRows(stores, o.valPhrases, o.seed);
    const from = [phrasesDir ? `${stores[0].phraseCount} phrases of ${stores[0].conceptCount} concepts from ${phrasesDir}` : '',
      captions ? `${captions.kept} captions of ${captions.lines} lines from ${o.captions} (${captions.noKeyword} without a vocabulary name, ${captions.cut} cut, ${captions.blank} blank: skipped)` : '']
      .filter(Boolean).join(' + ');
    r.log?.(`lincir: ${rows.total} rows (${rows.train} train, ${rows.held} held out): ${from}`);
    const { steps: _s, logEvery: _l, checkpointEvery: _c, captions: _f, vocab: _v, ...shaping } = o;
    // what is trained on, by content: each store's identity hashes its parts' indexes and sources (the
    // caption store's also the caption file's and the vocabulary's hashes, through its source.json)
    const configHash = hashJson({
      model: r.src.hash, options: shaping, phrases: phrasesDir ? stores[0].identity : undefined, logEvery: o.logEvery,
      ...(captions ? { captions: [captions.source.fileHash, captions.source.vocabHash, stores[stores.length - 1].identity] } : {}),
    });
    const meta = { 'starword.model_hash': r.src.hash, 'starword.options': JSON.stringify(o), 'starword.method': 'lincir' };
    const res = await trainLincir({
      src: r.src, rows, tokenize: r.tokenize, options: o, outDir: r.outDir, configHash, session: r.session, progress: r.progress, log: r.log,
      onEpoch: async (m) => {
        try { await writeMetricsReport(r.outDir, m, meta); } catch (err) { r.log?.(`lincir: could not write the report: ${(err as Error).message}`); }
      },
      stopAfterEpoch: r.stopAfterEpoch,
    });
    if (res.withoutPseudoWord) r.log?.(`lincir: ${res.withoutPseudoWord} masked phrases drawn had no $ left after tokenizing (cut at the context length): their rows train nothing`);
    await writeMetricsReport(r.outDir, res.metrics, meta);
    const files = {
      onnx: join(r.outDir, LINCIR_ONNX), safetensors: join(r.outDir, LINCIR_SAFETENSORS), checkpoint: join(r.outDir, LINCIR_CHECKPOINT),
      metrics: join(r.outDir, METRICS_FILE), plot: join(r.outDir, PLOT_PNG),
    };
    exportLincirOnnx(files.onnx, res.dims, res.weights);
    await exportLincirSafetensors(files.safetensors, res.dims, res.weights, { ...meta, 'starword.steps': String(res.steps) });
    exportLincirCheckpoint(files.checkpoint, res.steps, res.dims, res.weights);
    const summary: LincirSummary = {
      outDir: r.outDir, phrasesDir, captions, phrases: rows.total, train: rows.train, heldOut: rows.held, steps: res.steps, resumedFrom: res.resumedFrom,
      roundsRunNow: res.epochSeconds.length, withoutPseudoWord: res.withoutPseudoWord, last: res.metrics[res.metrics.length - 1] ?? null, files,
    };
    writeFileAtomic(join(r.outDir, 'summary.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
    return summary;
  } finally {
    for (const st of stores) st.close();
  }
}

/** The caption file's store under `<out>/captions`, made (or completed) with the model's text tower. */
async function captionStore(r: RunLincirOptions, file: string, vocabPath: string | undefined): Promise<CaptionStoreSummary> {
  checkCaptionFile(file);
  const vocabulary = loadVocabulary(vocabPath);
  let encoder: TextEncoder | undefined;
  try {
    const made = await buildCaptionStore({
      file, dir: join(r.outDir, CAPTIONS_DIR), vocabulary, modelHash: r.src.hash, dim: r.src.config.projectionDim, tokenize: r.tokenize, log: r.log,
      encodeIds: r.encodeIds ?? (async (ids) => (encoder ??= await createTextEncoder(r.src, { ...r.session })).encodeIds(ids)),
    });
    r.log?.(`lincir: captions masked by the ${describeVocabulary(vocabulary)}`);
    return made;
  } finally {
    await encoder?.release?.();
  }
}
