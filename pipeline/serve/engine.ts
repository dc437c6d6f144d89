/**
 * What `starword serve` answers with: one gallery index, the model's encoders, and the methods the
 * user gave weights for. Retrieval is `retrieve`'s code (stages/retrieve: composeQueries, rankGallery,
 * the index's reference features); the methods list is data, so a method appears only when it can run.
 */
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { basename, dirname } from 'node:path';
import type { ImageEncoder, TextEncoder } from '../../clip/towers/encoder-types.ts';
import { preprocessOptions } from '../../clip/image/preprocess.ts';
import { lincirFile } from '../lincir-tokens.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import type { ClipModel } from '../../clip/weights/clip-model.ts';
import * as imagesSchema from '../../schemas/images.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { optimizeBatch } from '../../stages/oti/optimize.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { PhiPredictor } from '../../stages/phi/invert.ts';
import { type Method, composeQueries } from '../../stages/retrieve/compose.ts';
import { type PartsGallery, collectRows, galleryIds } from '../../stages/retrieve/gallery.ts';
import { rankGallery } from '../../stages/retrieve/rank.ts';
import { UserError } from '../../util/errors.ts';
import { findRunDirs } from '../merge-runs.ts';
import { openEncoders, openIndex } from '../retrieve-query.ts';
import { SEARLE_OTI, otiTemplateIds } from '../../stages/oti/stage.ts';
import { DEFAULT_DECODER, UploadDecoder, UploadUnreadableError } from './upload-decoder.ts';

export interface ServeMethod {
  name: string;
  label: string;
  /** how the query is composed (stages/retrieve/compose.ts) */
  compose: Method;
  /** where the reference's pseudo-token comes from */
  token?: 'phi' | 'pic2word' | 'lincir' | 'oti';
}

export interface ServeOptions {
  index: string; model: string; phi?: string; pic2word?: string; lincir?: string;
  otiSteps: number; threads?: number; cacheDir?: string; device?: Device;
  /** the most pixels an upload may decode to (default 40 M; the header is checked before, in http.ts) */
  maxUploadPixels?: number;
}

export type Reference = { gallery: string } | { features: Float32Array };

export interface QueryRequest { reference: Reference; caption: string; method: string; k: number }
export interface QueryHit { id: string; score: number; rank: number }

/** The methods a server offers, given which mappers it was started with. */
export function serveMethods(o: { phi?: string; pic2word?: string; lincir?: string }): ServeMethod[] {
  return [
    ...(o.phi ? [{ name: 'searle', label: 'SEARLE (phi)', compose: 'searle' as const, token: 'phi' as const }] : []),
    { name: 'searle-oti', label: 'SEARLE-OTI (optimised live)', compose: 'searle', token: 'oti' },
    ...(o.pic2word ? [{ name: 'pic2word', label: 'Pic2Word', compose: 'searle' as const, token: 'pic2word' as const }] : []),
    ...(o.lincir ? [{ name: 'lincir', label: 'LinCIR', compose: 'searle' as const, token: 'lincir' as const }] : []),
    { name: 'sum', label: 'image + text (sum)', compose: 'sum' },
    { name: 'image', label: 'image only', compose: 'image' },
    { name: 'text', label: 'text only', compose: 'text' },
  ];
}

export class ServeEngine {
  private otiQueue: Promise<unknown> = Promise.resolve();
  private readonly decoder: UploadDecoder;
  private constructor(
    readonly opts: ServeOptions, readonly methods: ServeMethod[], readonly gallery: PartsGallery, readonly ids: string[],
    private readonly paths: Map<string, string>, private readonly model: ClipModel, private readonly text: TextEncoder,
    private readonly image: ImageEncoder, private readonly mappers: Map<string, PhiPredictor>,
    private readonly oti: { session: OtiSession; templates: Int32Array[] },
  ) {
    this.decoder = new UploadDecoder({ ...DEFAULT_DECODER, maxPixels: opts.maxUploadPixels ?? DEFAULT_DECODER.maxPixels });
  }

  static async open(o: ServeOptions): Promise<ServeEngine> {
    const flags = { model: o.model, threads: o.threads, device: o.device ?? 'cpu', cacheDir: o.cacheDir };
    const enc = await openEncoders(flags, { text: true, image: true });
    // the index's features must be the model's: another CLIP of the same width would rank silently wrong
    const gallery = openIndex(o.index, enc.model!.hash);
    const ids = await galleryIds(gallery);
    if (ids.length === 0) throw new UserError(`--index ${o.index}: the index is empty`);
    const paths = indexImagePaths(o.index);
    const mappers = new Map<string, PhiPredictor>();
    if (o.phi) mappers.set('phi', await PhiPredictor.open(o.phi, flags));
    // Pic2Word's mapper is exported like phi (image features in, token out), so the same predictor runs it
    if (o.pic2word) mappers.set('pic2word', await PhiPredictor.open(o.pic2word, flags));
    // LinCIR's φ is SEARLE's network, trained on text
    if (o.lincir) mappers.set('lincir', await PhiPredictor.open(lincirFile(o.lincir), { ...flags, flag: '--lincir' }));
    const model = enc.model!;
    const tokenizer = await ClipTokenizer.forModelDir(model.dir);
    const session = await OtiSession.create(model, { threads: o.threads, cacheDir: o.cacheDir, device: o.device });
    return new ServeEngine(o, serveMethods(o), gallery, ids, paths, model, enc.text!, enc.image!, mappers,
      { session, templates: otiTemplateIds(tokenizer, model.config.text.ctx) });
  }

  /** Gallery ids whose image file is known (from the index's ingest plan). */
  get imageCount(): number { return this.paths.size; }

  /** The file of a gallery id, only for ids of the index (never a path built from the request). */
  imagePath(id: string): string | undefined { return this.paths.get(id); }

  /** Raw CLIP features of an uploaded image; a bad image is a UserError with a message for the page. */
  async encodeUpload(bytes: Buffer): Promise<Float32Array> {
    const p = preprocessOptions({ imageSize: this.image.imageSize, preprocessorConfig: this.model.preprocessorConfig, mode: 'targetpad' });
    let pixels: Float32Array;
    // decoded in a worker thread, a few at a time (upload-decoder.ts); busy and timeout errors pass through
    try { pixels = await this.decoder.decode(bytes, p); } catch (err) {
      if (err instanceof UploadUnreadableError) throw new UserError(`the upload is not a readable image (${err.reason ?? err.message})`);
      throw err;
    }
    const [f] = await this.image.encodePixels([pixels]);
    return f;
  }

  async query(q: QueryRequest, onProgress?: (step: number, steps: number) => void): Promise<QueryHit[]> {
    const m = this.methods.find((x) => x.name === q.method);
    if (!m) throw new UserError(`unknown method '${q.method}' (this server offers ${this.methods.map((x) => x.name).join(', ')})`);
    const caption = q.caption.trim();
    if (m.compose !== 'image' && !caption) throw new UserError('type a relative caption');
    const refId = 'gallery' in q.reference ? q.reference.gallery : undefined;
    if (refId !== undefined && !this.paths.has(refId) && !this.ids.includes(refId)) throw new UserError(`'${refId}' is not an image of the index`);
    const feature = 'features' in q.reference ? q.reference.features
      : (await collectRows(this.gallery, [refId!])).get(refId!);
    if (!feature) throw new UserError(`no features for '${refId}' in the index`);
    let token: Float32Array | undefined;
    if (m.token === 'oti') token = await this.invertLive(feature, onProgress);
    else if (m.token) [token] = await this.mappers.get(m.token)!.predict([feature]);
    const [query] = await composeQueries(m.compose, [{ captions: [caption || ' '], token, image: feature }], { text: this.text });
    if (!query) throw new UserError('the query could not be formed');
    const { rankings } = await rankGallery([query], this.gallery, { k: q.k, exclude: [refId ? [refId] : []] });
    return rankings[0].hits.map((h, i) => ({ id: h.id, score: h.score, rank: i + 1 }));
  }

  /**
   * OTI for one image, as the OTI stage runs it but with L_cos alone: an arbitrary image has no concepts
   * and phrases here. One inversion at a time (each uses all the threads).
   */
  private invertLive(features: Float32Array, onProgress?: (step: number, steps: number) => void): Promise<Float32Array> {
    const steps = this.opts.otiSteps;
    const run = this.otiQueue.then(async () => {
      const [r] = await optimizeBatch(this.oti.session, [{ id: 'query', features, phrases: [] }], this.oti.templates,
        { ...SEARLE_OTI, steps, batchSize: 1, lambdaGpt: 0 }, (s) => onProgress?.(s, steps));
      if (r.status !== 'ok') throw new UserError(`OTI failed: ${r.error}`);
      return r.ema;
    });
    this.otiQueue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.decoder.close();
    await this.oti.session.release();
    await this.text.release?.();
    await this.image.release?.();
  }
}

/** Gallery id → image file, from the index's ingest plan (a run folder, or its embed/ folder). */
export function indexImagePaths(index: string): Map<string, string> {
  const out = new Map<string, string>();
  let dir = index;
  if (basename(dir) === 'embed') dir = dirname(dir);
  let runDirs: string[];
  try { runDirs = findRunDirs(dir); } catch { return out; }
  for (const runDir of runDirs) {
    const ingest = stageDir(runDir, 'ingest');
    for (const p of listDoneParts(ingest, imagesSchema.KIND)) {
      for (const r of imagesSchema.fromTable(readPart(ingest, imagesSchema.KIND, p))) out.set(r.imageId, r.path);
    }
  }
  return out;
}
