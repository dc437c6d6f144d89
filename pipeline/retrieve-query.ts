/**
 * `starword retrieve --model DIR --index DIR --reference IMAGE|ID --caption TEXT [--tokens PATH | --phi FILE]
 * [--method searle|image|text|sum|pic2word] [--pic2word FILE] [--top-k 50]`: one composed query against a gallery index; prints
 * JSON lines {id, score, rank}, best first. The reference is an image file (encoded here) or an id of
 * the index; when it is in the index it is left out of its own ranking.
 * Also holds the model/token loading that `evaluate` shares.
 */
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ImageEncoder, TextEncoder } from '../clip/towers/encoder-types.ts';
import { type PreprocessMode, preprocessImage, preprocessOptions } from '../clip/image/preprocess.ts';
import { createTextEncoder } from '../clip/towers/text-encoder.ts';
import { createImageEncoder } from '../clip/towers/vision-encoder.ts';
import { type ClipModel, loadClipModel } from '../clip/weights/clip-model.ts';
import { COMPOSE_METHODS, type ComposeMethod, type Method, composeQueries, isComposeMethod, isMethod, METHODS, methodNeeds } from '../stages/retrieve/compose.ts';
import { PartsGallery, collectRows, galleryIds } from '../stages/retrieve/gallery.ts';
import { IdResolver } from '../stages/retrieve/id-resolver.ts';
import { rankGallery } from '../stages/retrieve/rank.ts';
import { type TokenProvider, locateParts, partsTokenProvider, phiTokenProvider } from '../stages/retrieve/sources.ts';
import { PhiPredictor } from '../stages/phi/invert.ts';
import { UserError } from '../util/errors.ts';
import { writeJsonLine } from './jsonl.ts';
import { resolvePhiArg } from './phi-file.ts';
import { pic2wordTokenProvider } from './pic2word-tokens.ts';
import { lincirTokenProvider } from './lincir-tokens.ts';
import { type Device } from './options.ts';

export interface ModelFlags { model?: string; threads?: number; device: Device; cacheDir?: string }

export function parseMethod(s: string): Method {
  if (!isMethod(s)) throw new UserError(`--method must be one of ${METHODS.join(', ')}, got '${s}'`);
  return s;
}

/**
 * The gallery of `--index`: a features folder, a run folder (its embed/), or one .arrow file. With
 * `modelHash` (the command's model), features another model embedded are refused when read.
 */
export function openIndex(path: string, modelHash?: string): PartsGallery {
  return new PartsGallery(locateParts(path, 'features', 'embed', '--index'), { modelHash });
}

/**
 * The searle token source of --tokens / --phi; undefined when neither is given. `modelHash` is asked
 * when tokens parts are read: those of another model are refused.
 */
export async function tokenProviderFrom(flags: { tokens?: string; phi?: string; threads?: number; device?: Device; cacheDir?: string },
  modelHash?: () => string | undefined): Promise<TokenProvider | undefined> {
  if (flags.tokens && flags.phi) throw new UserError('give --tokens or --phi, not both');
  if (flags.tokens) return partsTokenProvider(flags.tokens, { modelHash });
  // phi as `starword phi` exports it: .onnx, or .safetensors in SEARLE's layout
  if (flags.phi) {
    const path = await resolvePhiArg(flags.phi, undefined, (l) => process.stderr.write(`${l}\n`));
    return phiTokenProvider(await PhiPredictor.open(path, { threads: flags.threads, device: flags.device, cacheDir: flags.cacheDir }));
  }
  return undefined;
}

/** Loads the model and the encoders `methods` need (none for image-only retrieval from the index). */
export async function openEncoders(flags: ModelFlags, need: { text: boolean; image: boolean }): Promise<{ model?: ClipModel; text?: TextEncoder; image?: ImageEncoder }> {
  if (!need.text && !need.image) return {};
  if (!flags.model) throw new UserError('--model is required for this method');
  const session = { threads: flags.threads, device: flags.device as Device, cacheDir: flags.cacheDir };
  const model = await loadClipModel(flags.model);
  return {
    model,
    text: need.text ? await createTextEncoder(model, session) : undefined,
    image: need.image ? await createImageEncoder(model, session) : undefined,
  };
}

export interface Options extends ModelFlags {
  index: string; reference: string; caption: string[]; tokens?: string; phi?: string; pic2word?: string; lincir?: string; method?: string; topK: number;
  preprocess: string; blockRows: number;
}

export async function runRetrieve(opts: Options, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  // --pic2word (--lincir) alone picks its method, as --phi does searle's
  const name = opts.method ?? (opts.pic2word ? 'pic2word' : opts.lincir ? 'lincir' : 'searle');
  // lincir composes as searle does (LinCIR's validate.py: "a photo of $ that {caption}"): only its tokens differ
  const isLincir = name === 'lincir';
  if (!isLincir && !isComposeMethod(name)) throw new UserError(`--method must be one of ${[...COMPOSE_METHODS, 'lincir'].join(', ')}, got '${name}'`);
  const method: ComposeMethod = isLincir ? 'searle' : name as ComposeMethod;
  if (opts.pic2word && method !== 'pic2word') throw new UserError(`--pic2word is for --method pic2word, not ${name}`);
  if (opts.lincir && !isLincir) throw new UserError(`--lincir is for --method lincir, not ${name}`);
  if (isLincir && opts.phi) throw new UserError('--phi is for --method searle; method lincir takes --lincir or --tokens');
  const needs = methodNeeds(method);
  const isFile = existsSync(opts.reference) && statSync(opts.reference).isFile();
  // the model, once loaded, is what the index and tokens are checked against (none for --method image by id)
  let modelHash: string | undefined;
  // pic2word's tokens: f_M from --pic2word, or tokens parts that `invert --pic2word` wrote (--tokens)
  const tokens = !needs.token ? undefined : method === 'pic2word'
    ? await pic2wordTokenProvider({ ...opts, pic2word: opts.pic2word, pic2wordTokens: opts.tokens }, () => modelHash)
    : isLincir ? await lincirTokenProvider({ ...opts, lincir: opts.lincir, lincirTokens: opts.tokens }, () => modelHash)
    : await tokenProviderFrom(opts, () => modelHash);
  if (needs.token && !tokens) {
    throw new UserError(method === 'pic2word' ? "method 'pic2word' needs --pic2word or --tokens" : isLincir ? "method 'lincir' needs --lincir or --tokens" : "method 'searle' needs --tokens or --phi");
  }
  if (method === 'pic2word' && opts.phi) throw new UserError('--phi is for --method searle; method pic2word takes --pic2word or --tokens');
  const wantFeature = needs.image || (tokens?.needsFeatures ?? false);
  const enc = await openEncoders(opts, { text: needs.text, image: wantFeature && isFile });
  modelHash = enc.model?.hash;

  const gallery = openIndex(opts.index, modelHash);
  const resolver = new IdResolver(await galleryIds(gallery, opts.blockRows));
  // The reference's gallery id: the id given, or the file's id by name (an image that is also indexed).
  const refId = resolver.resolve(opts.reference) ?? (isFile ? resolver.resolve(basename(opts.reference)) : undefined);
  if (!isFile && refId === undefined) throw new UserError(`--reference ${opts.reference}: neither an image file nor an id of the index`);

  // Raw image features of the reference: from the file, or from the index.
  let feature: Float32Array | undefined;
  if (wantFeature) {
    if (isFile) {
      if (opts.preprocess !== 'targetpad' && opts.preprocess !== 'plain') throw new UserError(`--preprocess must be targetpad or plain, got '${opts.preprocess}'`);
      const p = preprocessOptions({ imageSize: enc.image!.imageSize, preprocessorConfig: enc.model?.preprocessorConfig, mode: opts.preprocess as PreprocessMode });
      [feature] = await enc.image!.encodePixels([await preprocessImage(opts.reference, p)]);
    } else {
      feature = (await collectRows(gallery, [refId as string], opts.blockRows)).get(refId as string);
    }
  }
  let token: Float32Array | undefined;
  if (tokens) {
    const key = refId ?? opts.reference;
    const map = await tokens.tokens([key], new Map(feature ? [[key, feature]] : []));
    token = map.get(key);
    if (!token) throw new UserError(`no pseudo-token for the reference '${key}' in ${opts.tokens ?? opts.phi ?? opts.pic2word ?? opts.lincir}`);
  }
  const captions = opts.caption;
  if (captions.length < 1 || captions.length > 2) throw new UserError('--caption: give one caption (or two, FashionIQ style)');
  const [query] = await composeQueries(method, [{ captions, token, image: feature }], { text: enc.text });
  if (!query) throw new UserError('the query could not be formed (missing token or reference features)');
  const { rankings } = await rankGallery([query], gallery, { k: opts.topK, blockRows: opts.blockRows, exclude: [refId ? [refId] : []] });
  let rank = 1;
  for (const h of rankings[0].hits) await writeJsonLine({ id: h.id, score: h.score, rank: rank++ }, out);
}
