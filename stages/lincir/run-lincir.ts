/**
 * The LinCIR stage over a run folder, a merged corpus or a phrases folder: the phrase store's rows
 * (masked phrase, target feature), training (resumable), then the exports and the report:
 *   <out>/lincir.onnx (+ .data), <out>/lincir.safetensors (SEARLE's Phi layout), <out>/lincir.pt
 *   (LinCIR's {'epoch', 'Phi'}), <out>/metrics.arrow, <out>/losses.svg + .png,
 *   <out>/checkpoints/epoch-NNNNN.safetensors, <out>/summary.json
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import type { LincirMetricsRow } from '../../schemas/lincir-metrics.ts';
import { writeFileAtomic } from '../../schemas/part-io.ts';
import { PhraseStore, STORE_DIR } from '../../schemas/phrase-store.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { exportLincirCheckpoint, exportLincirOnnx, exportLincirSafetensors } from './export.ts';
import { type LincirOptions, lincirOptionsSchema } from './options.ts';
import { PhraseRows } from './phrase-rows.ts';
import { METRICS_FILE, PLOT_PNG, writeMetricsReport } from './report.ts';
import { trainLincir } from './train.ts';

import { LINCIR_CHECKPOINT, LINCIR_ONNX, LINCIR_SAFETENSORS } from './files.ts';

export { LINCIR_CHECKPOINT, LINCIR_ONNX, LINCIR_SAFETENSORS } from './files.ts';

export interface RunLincirOptions {
  /** a run folder, a merged corpus (DIR/corpus or DIR), or a phrases folder */
  source: string;
  outDir: string;
  src: WeightSource;
  tokenize: (text: string) => ArrayLike<number>;
  /** computes target features of phrases stored without them (only when a store part is built) */
  encode?: (texts: string[]) => Promise<Float32Array[]>;
  options: LincirOptions;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  stopAfterEpoch?: number;
}

export interface LincirSummary {
  outDir: string;
  phrasesDir: string;
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
  const phrasesDir = locatePhrases(r.source);
  const store = await PhraseStore.open(phrasesDir, { dim: r.src.config.projectionDim, encode: r.encode, log: r.log });
  try {
    if (store.phraseCount < 2) throw new UserError(`${phrasesDir}: ${store.phraseCount} phrase(s): LinCIR needs at least 2`);
    const rows = new PhraseRows(store, o.valPhrases, o.seed);
    r.log?.(`lincir: ${rows.total} phrases of ${store.conceptCount} concepts (${rows.train} train, ${rows.held} held out) from ${phrasesDir}`);
    const { steps: _s, logEvery: _l, checkpointEvery: _c, ...shaping } = o;
    // the phrases trained on, by content: the store's identity hashes each part's index and source
    const configHash = hashJson({ model: r.src.hash, options: shaping, phrases: store.identity, logEvery: o.logEvery });
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
      outDir: r.outDir, phrasesDir, phrases: rows.total, train: rows.train, heldOut: rows.held, steps: res.steps, resumedFrom: res.resumedFrom,
      roundsRunNow: res.epochSeconds.length, withoutPseudoWord: res.withoutPseudoWord, last: res.metrics[res.metrics.length - 1] ?? null, files,
    };
    writeFileAtomic(join(r.outDir, 'summary.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
    return summary;
  } finally {
    store.close();
  }
}
