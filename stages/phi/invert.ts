/**
 * `invert`: image → pseudo-token in one phi forward pass, written as `tokens` parts (the kind OTI
 * writes: token and ema both phi's prediction, status ok, steps 0), so `oti --init-from` and retrieval
 * read them as they read OTI's. Inputs: features parts (an embed folder or one features file), or image
 * files decoded, preprocessed and encoded here; a bad image becomes a failed row and the run goes on.
 * Parts already done in the output folder are skipped (resume).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import type { ImageEncoder } from '../../clip/towers/encoder-types.ts';
import { cachedGraphPath, createSession, floatTensor, type ort, type SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { type PreprocessOptions, preprocessImage } from '../../clip/image/preprocess.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as errorsSchema from '../../schemas/errors.ts';
import * as featuresSchema from '../../schemas/features.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { isPartDone, listDoneParts, partModelHash, readPart, readPartStats, refuseOtherModel, writePart } from '../../schemas/part-io.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { sha256File } from '../../util/hash.ts';
import type { ProgressSink } from '../../util/progress-sink.ts';
import { loadPhiSafetensors } from './export.ts';
import { PHI_GRAPH_VERSION, buildPhiInferenceGraph } from './phi-graph.ts';

/**
 * What `invert` needs of a mapping network: phi's predictor, or any other image-features → token map
 * with the same shape (Pic2Word's f_M), passed in by the pipeline.
 */
export interface TokenMapper {
  readonly inputDim: number;
  readonly outputDim: number;
  predict(features: Float32Array[]): Promise<Float32Array[]>;
}

/** phi loaded for inference from its ONNX export or a SEARLE-layout safetensors file. */
export class PhiPredictor {
  private constructor(private readonly session: ort.InferenceSession, readonly inputDim: number, readonly outputDim: number, readonly batchSize: number) {}

  static async open(path: string, opts: SessionOptions & { batchSize?: number; flag?: string } = {}): Promise<PhiPredictor> {
    const flag = opts.flag ?? '--phi'; // LinCIR's φ is the same network: `--lincir` opens it here too
    if (!existsSync(path)) throw new UserError(`${flag} ${path}: no such file`);
    let modelPath = path;
    if (/\.safetensors$/i.test(path)) {
      const { dims, weights } = await loadPhiSafetensors(path);
      modelPath = cachedGraphPath({ kind: 'phi-infer', weights: await sha256File(path), version: PHI_GRAPH_VERSION }, () => buildPhiInferenceGraph(dims, weights), opts.cacheDir);
    } else if (!/\.onnx$/i.test(path)) {
      throw new UserError(`${flag} ${path}: expected a .onnx or .safetensors file`);
    }
    let session: ort.InferenceSession;
    try { session = await createSession(modelPath, opts); } catch (err) { throw new UserError(`${flag} ${path}: ${errorMessage(err)}`); }
    const inp = session.inputMetadata.find((m) => m.name === 'image_features');
    const out = session.outputMetadata.find((m) => m.name === 'token');
    const last = (m: ort.InferenceSession.ValueMetadata | undefined) => (m && m.isTensor ? m.shape[m.shape.length - 1] : undefined);
    const d = last(inp), D = last(out);
    if (typeof d !== 'number' || typeof D !== 'number') throw new UserError(`${flag} ${path}: not a phi export (needs input image_features [B, d] and output token [B, D])`);
    return new PhiPredictor(session, d, D, opts.batchSize ?? 256);
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async predict(features: Float32Array[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let s = 0; s < features.length; s += this.batchSize) {
      const rows = features.slice(s, s + this.batchSize);
      const flat = new Float32Array(rows.length * this.inputDim);
      rows.forEach((f, i) => {
        if (f.length !== this.inputDim) throw new UserError(`features of length ${f.length}, phi takes ${this.inputDim}`);
        flat.set(f, i * this.inputDim);
      });
      const res = await this.session.run({ image_features: floatTensor(flat, [rows.length, this.inputDim]) });
      const t = res.token.data as Float32Array;
      for (let i = 0; i < rows.length; i++) out.push(t.slice(i * this.outputDim, (i + 1) * this.outputDim));
    }
    return out;
  }
}

export interface InvertSummary { parts: number; partsSkipped: number; images: number; ok: number; failed: number; seconds: number }

interface Item { id: string; path: string; features: Float32Array | null; error: string | null; code: string }

function tokenRow(it: Item, token: Float32Array | null): tokensSchema.TokenRow {
  const ok = token !== null && token.every(Number.isFinite);
  const error = it.error ?? (ok ? null : 'phi gave a non-finite token');
  return { imageId: it.id, token: ok ? token : null, ema: ok ? token : null, lcos: NaN, lgpt: NaN, steps: 0, seed: 0,
    status: ok ? 'ok' : 'failed', error };
}

async function writeTokensPart(outDir: string, index: number, items: Item[], phi: TokenMapper, metadata: Record<string, string>): Promise<{ ok: number; failed: number }> {
  const good = items.filter((it) => it.features);
  const preds = await phi.predict(good.map((it) => it.features!));
  const byId = new Map(good.map((it, i) => [it, preds[i]]));
  const rows = items.map((it) => tokenRow(it, byId.get(it) ?? null));
  const failures: errorsSchema.ErrorRow[] = items.flatMap((it, i) => (rows[i].status === 'failed'
    ? [{ imageId: it.id, path: it.path, stage: 'invert', code: it.error ? it.code : 'non-finite', reason: rows[i].error ?? 'failed' }] : []));
  await writePart(outDir, errorsSchema.KIND, index, errorsSchema.toTable(failures), SCHEMA_VERSION);
  const ok = rows.length - failures.length;
  // the model of the features the tokens come from, so that readers of the tokens can check it too
  const model = metadata['starword.model_hash'];
  await writePart(outDir, tokensSchema.KIND, index, tokensSchema.toTable(rows, phi.outputDim, metadata), SCHEMA_VERSION, { ok, failed: failures.length },
    model ? { modelHash: model } : undefined);
  return { ok, failed: failures.length };
}

/**
 * Inverts a features folder (its done parts, same indices out) or one features Arrow file (part 0).
 * With `modelHash` (invert's --model), features another model embedded are refused in one line.
 */
export async function invertFeatures(source: string, outDir: string, phi: TokenMapper, metadata: Record<string, string> = {},
  progress?: ProgressSink, modelHash?: string): Promise<InvertSummary> {
  const t0 = performance.now();
  if (!existsSync(source)) throw new UserError(`--features ${source}: no such file or folder`);
  const isDir = statSync(source).isDirectory();
  const indices = isDir ? listDoneParts(source, featuresSchema.KIND) : [0];
  if (!indices.length) throw new UserError(`--features ${source}: no finished features parts in it`);
  const modelRedo = 'embed these images with this --model, or pass the --model they were embedded with';
  const read = (i: number) => {
    try {
      if (isDir) return featuresSchema.fromTable(readPart(source, featuresSchema.KIND, i, { expectModelHash: modelHash, modelRedo }));
      const table = tableFromIPC(readFileSync(source));
      if (modelHash !== undefined) refuseOtherModel(source, table.schema.metadata.get('starword.model_hash') || null, modelHash, modelRedo);
      return featuresSchema.fromTable(table);
    } catch (err) { throw new UserError(`--features ${source}: ${errorMessage(err)}`); }
  };
  const todo = indices.filter((i) => !isPartDone(outDir, tokensSchema.KIND, i));
  const summary: InvertSummary = { parts: indices.length, partsSkipped: indices.length - todo.length, images: 0, ok: 0, failed: 0, seconds: 0 };
  progress?.start(todo.length);
  for (const i of todo) {
    const part = read(i);
    if (part.dim !== phi.inputDim) throw new UserError(`--features ${source}: ${part.dim}-d features, phi takes ${phi.inputDim}-d`);
    const items: Item[] = part.rows.map((r) => ({ id: r.imageId, path: '', features: r.features, error: null, code: '' }));
    const featuresModel = isDir ? partModelHash(readPartStats(source, featuresSchema.KIND, i)) : null;
    const partMeta = featuresModel && !metadata['starword.model_hash'] ? { ...metadata, 'starword.model_hash': featuresModel } : metadata;
    const r = await writeTokensPart(outDir, i, items, phi, partMeta);
    summary.images += items.length; summary.ok += r.ok; summary.failed += r.failed;
    progress?.increment(1);
  }
  progress?.stop();
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

export interface ImageInput { id: string; path: string }

/** Inverts image files, `partSize` images per tokens part, in the order given. */
export async function invertImages(images: ImageInput[], outDir: string, phi: TokenMapper, encoder: ImageEncoder,
  preprocess: PreprocessOptions, o: { partSize: number; batchSize: number; metadata?: Record<string, string>; progress?: ProgressSink }): Promise<InvertSummary> {
  const t0 = performance.now();
  if (encoder.dim !== phi.inputDim) throw new UserError(`the model's image features are ${encoder.dim}-d, phi takes ${phi.inputDim}-d: another model`);
  const parts = Math.ceil(images.length / o.partSize);
  const todo = [...Array(parts).keys()].filter((i) => !isPartDone(outDir, tokensSchema.KIND, i));
  const summary: InvertSummary = { parts, partsSkipped: parts - todo.length, images: 0, ok: 0, failed: 0, seconds: 0 };
  o.progress?.start(todo.length * o.partSize);
  for (const index of todo) {
    const slice = images.slice(index * o.partSize, (index + 1) * o.partSize);
    const items: Item[] = [];
    for (let s = 0; s < slice.length; s += o.batchSize) {
      const batch = slice.slice(s, s + o.batchSize);
      const pixels = await Promise.all(batch.map(async (im) => {
        try { return { px: await preprocessImage(im.path, preprocess), error: null, code: '' }; } catch (err) {
          const reason = (err as { reason?: string }).reason;
          return { px: null, error: errorMessage(err), code: typeof reason === 'string' ? reason : 'error' };
        }
      }));
      const okPx = pixels.filter((p) => p.px).map((p) => p.px!);
      const feats = okPx.length ? await encoder.encodePixels(okPx) : [];
      let k = 0;
      batch.forEach((im, i) => {
        const p = pixels[i];
        items.push({ id: im.id, path: im.path, features: p.px ? feats[k++] : null, error: p.error, code: p.code });
      });
      o.progress?.increment(batch.length);
    }
    const r = await writeTokensPart(outDir, index, items, phi, o.metadata ?? {});
    summary.images += items.length; summary.ok += r.ok; summary.failed += r.failed;
  }
  o.progress?.stop();
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
