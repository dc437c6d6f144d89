/**
 * The Pic2Word stage: image features from a run folder or merged corpus, training (resumable), then the
 * exports and the report in the output folder:
 *   <out>/pic2word.onnx (+ .data), <out>/pic2word.safetensors (the authors' IM2TEXT layout),
 *   <out>/metrics.arrow, <out>/losses.svg + losses.png, <out>/checkpoints/epoch-NNNNN.safetensors,
 *   <out>/summary.json
 */
import { join } from 'node:path';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { PSEUDO_TOKEN_ID } from '../../clip/text/text-batch.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import type { Pic2WordMetricsRow } from '../../schemas/pic2word-metrics.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson, sha256 } from '../../util/hash.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { splitExamples } from '../../util/held-out.ts';
import { loadFeatureSet } from './dataset.ts';
import { exportPic2WordOnnx, exportPic2WordSafetensors } from './export.ts';
import type { Pic2WordOptions } from './options.ts';
import { METRICS_FILE, PLOT_PNG, writeMetricsReport } from './report.ts';
import { trainPic2Word } from './train.ts';

export const PIC2WORD_ONNX = 'pic2word.onnx';
export const PIC2WORD_SAFETENSORS = 'pic2word.safetensors';
/** The authors' training prompt (src/trainer.py: "a photo of" with the token appended), `$` for the token. */
export const PIC2WORD_TRAIN_PROMPT = 'a photo of $';

export interface RunPic2WordOptions {
  /** a run folder, its embed/ folder, a features .arrow file, or a merged corpus (DIR/corpus that `starword merge DIR` builds, or DIR) */
  source: string;
  outDir: string;
  src: WeightSource;
  /** the model's tokenizer (ids SOT … EOT, any padding) */
  tokenize: (text: string) => ArrayLike<number>;
  options: Pic2WordOptions;
  session?: SessionOptions;
  progress?: ProgressSink;
  log?: (line: string) => void;
  stopAfterEpoch?: number;
}

export interface Pic2WordSummary {
  outDir: string;
  images: number; train: number; val: number; duplicates: number;
  logitScale: number;
  stepsPerEpoch: number;
  resumedFrom: number | null;
  epochsRunNow: number;
  meanEpochSeconds: number | null;
  last: Pic2WordMetricsRow | null;
  files: { onnx: string; safetensors: string; metrics: string; plot: string };
}

/** The prompt's ids cut after the EOT; refuses a tokenizer that does not give `$` as one id. */
export function promptIds(tokenize: (text: string) => ArrayLike<number>, eos: number, text = PIC2WORD_TRAIN_PROMPT): number[] {
  const ids = Array.from(tokenize(text));
  const end = ids.indexOf(eos);
  const cut = end >= 0 ? ids.slice(0, end + 1) : ids;
  if (!cut.includes(PSEUDO_TOKEN_ID)) throw new UserError(`the model's tokenizer does not give '$' as id ${PSEUDO_TOKEN_ID} in '${text}': not an OpenAI CLIP vocabulary`);
  return cut;
}

export async function runPic2Word(r: RunPic2WordOptions): Promise<Pic2WordSummary> {
  const o = r.options;
  const data = loadFeatureSet(r.source, 'source', r.src.hash);
  if (!data.examples.length) throw new UserError(`${r.source}: its features parts hold no images`);
  if (data.dim !== r.src.config.projectionDim) {
    throw new UserError(`${r.source}: ${data.dim}-d features, the model's projection dim is ${r.src.config.projectionDim}: embedded with another model`);
  }
  const { train, val } = splitExamples(data.examples, o.valFraction);
  const ids = promptIds(r.tokenize, r.src.config.text.eos);
  if (o.epochs > 0 && train.length < o.batchSize) {
    throw new UserError(`--batch ${o.batchSize} is larger than the ${train.length} training images (the last partial batch is dropped, as the authors do): lower --batch`);
  }
  r.log?.(`pic2word: ${data.examples.length} images (${train.length} train, ${val.length} held out) from ${data.sources.length} features parts`
    + `${data.duplicates ? `, ${data.duplicates} duplicate ids skipped` : ''}`);
  const { epochs: _e, checkpointEvery: _c, maxSteps: _m, ...shaping } = o;
  const configHash = hashJson({ model: r.src.hash, options: shaping, prompt: ids, train: sha256(train.map((e) => e.id).join('\n')), val: val.length });
  const meta = { 'starword.model_hash': r.src.hash, 'starword.options': JSON.stringify(o), 'starword.prompt': PIC2WORD_TRAIN_PROMPT };
  const res = await trainPic2Word({
    src: r.src, promptIds: ids, train, val, options: o, outDir: r.outDir, configHash, session: r.session, progress: r.progress, log: r.log,
    onEpoch: async (rows) => {
      try { await writeMetricsReport(r.outDir, rows, meta); } catch (err) { r.log?.(`pic2word: could not write the report: ${(err as Error).message}`); }
    },
    stopAfterEpoch: r.stopAfterEpoch,
  });
  await writeMetricsReport(r.outDir, res.metrics, meta);
  const files = {
    onnx: join(r.outDir, PIC2WORD_ONNX), safetensors: join(r.outDir, PIC2WORD_SAFETENSORS),
    metrics: join(r.outDir, METRICS_FILE), plot: join(r.outDir, PLOT_PNG),
  };
  exportPic2WordOnnx(files.onnx, res.dims, res.weights);
  const epochDone = res.metrics[res.metrics.length - 1]?.epoch ?? 0;
  await exportPic2WordSafetensors(files.safetensors, res.dims, res.weights, { ...meta, 'starword.epoch': String(epochDone) });
  const mean = res.epochSeconds.length ? res.epochSeconds.reduce((a, b) => a + b, 0) / res.epochSeconds.length : null;
  const summary: Pic2WordSummary = {
    outDir: r.outDir, images: data.examples.length, train: train.length, val: val.length, duplicates: data.duplicates,
    logitScale: res.logitScale, stepsPerEpoch: res.stepsPerEpoch, resumedFrom: res.resumedFrom,
    epochsRunNow: res.epochSeconds.length, meanEpochSeconds: mean, last: res.metrics[res.metrics.length - 1] ?? null, files,
  };
  writeFileAtomic(join(r.outDir, 'summary.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return summary;
}
