/**
 * `starword invert --phi FILE | --pic2word FILE | --lincir FILE | --mapper phi|pic2word|lincir --mapper-file FILE
 * --images DIR|--features DIR --out DIR`: image → pseudo-token with phi, Pic2Word's f_M or LinCIR's φ, as tokens parts.
 */
import { underLock } from '../run-manifest.ts';
import type { Command } from 'commander';
import { addSharedOptions, sessionOptionsFrom, sharedOptionsFrom } from '../shared-options.ts';
import { resolve } from 'node:path';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { preprocessOptions } from '../../clip/image/preprocess.ts';
import { listImageDir } from '../../stages/ingest/list-dir.ts';
import { type InvertSummary, PhiPredictor, type TokenMapper, invertFeatures, invertImages } from '../../stages/phi/invert.ts';
import { Pic2WordPredictor } from '../../stages/pic2word/predictor.ts';
import { locateParts } from '../../stages/retrieve/sources.ts';
import { UserError } from '../../util/errors.ts';
import { loadClipModel, modelHash } from '../../clip/weights/clip-model.ts';
import { resolvePhiArg } from '../phi-file.ts';
import { lincirFile } from '../lincir-tokens.ts';
import { positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

interface InvertCliOptions {
  phi?: string; checkpoint?: string; pic2word?: string; lincir?: string; mapper?: string; mapperFile?: string; model?: string; images?: string; features?: string; out: string;
  partSize: number; batch: number; threads?: number; cacheDir?: string; logJson?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('invert')
    .description('invert images (or their features) with a trained phi or Pic2Word f_M: tokens parts that oti --init-from and retrieval read')
    .option('--phi <path>', 'phi export: .onnx (with its .onnx.data), SEARLE-layout .safetensors, or a phi output folder')
    .option('--checkpoint <which>', 'with a phi folder: best | last | an epoch (default: best when validated on CIRR, else last)')
    .option('--pic2word <file>', 'Pic2Word f_M export: .onnx (with its .onnx.data) or IM2TEXT-layout .safetensors')
    .option('--lincir <path>', 'LinCIR φ export: .onnx (with its .onnx.data), Phi-layout .safetensors, or a `starword lincir` output folder')
    .option('--mapper <name>', 'phi | pic2word | lincir: which network --mapper-file holds')
    .option('--mapper-file <file>', 'the network file of --mapper')
    .option('--images <dir>', 'folder of images (recursive)')
    .option('--features <path>', 'a run folder or corpus (its embed/), a folder of features parts, or one features .arrow file')
    .requiredOption('--out <dir>', 'output folder of tokens parts (resumable)')
    .option('--part-size <n>', 'images per tokens part (with --images)', positiveIntOption, 1000)
    .option('--batch <n>', 'images per vision-encoder batch', positiveIntOption, 32);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson'], help: { model: 'Hugging Face CLIP folder (needed with --images; with --features, the features are checked against it)' } });
  cmd.action(async (o: InvertCliOptions) => {
      if (!!o.images === !!o.features) throw new UserError('give exactly one of --images and --features');
      const sess = sessionOptionsFrom(sharedOptionsFrom(o as unknown as Record<string, unknown>));
      const { kind, path } = mapperChoice(o);
      const phiPath = kind === 'phi' ? await resolvePhiArg(resolve(path), o.checkpoint, (l) => process.stderr.write(`${l}\n`)) : resolve(path);
      const phi: TokenMapper = kind === 'phi' || kind === 'lincir' ? await PhiPredictor.open(kind === 'lincir' ? lincirFile(phiPath) : phiPath, { ...sess, flag: o.lincir ? '--lincir' : kind === 'phi' && o.phi ? '--phi' : '--mapper-file' })
        : await Pic2WordPredictor.open(phiPath, { ...sess, flag: o.pic2word ? '--pic2word' : '--mapper-file' });
      const out = resolve(o.out);
      const metadata = { 'starword.source': kind, [`starword.${kind}`]: phiPath };
      const progress = createProgress('invert', { logJson: o.logJson });
      // one writer of the output folder, taken once the inputs have checked out
      const locked = <T>(fn: () => Promise<T>): Promise<T> => {
        const { lock } = underLock(out, 'invert', () => undefined);
        return fn().finally(() => lock.release());
      };
      let s: InvertSummary;
      if (o.features) {
        const features = locateParts(resolve(o.features), 'features', 'embed', '--features');
        // with --model, the features are checked against it (its hash only: no graph is built)
        const expected = o.model ? await modelHash(resolve(o.model)) : undefined;
        s = await locked(() => invertFeatures(features, out, phi, expected ? { ...metadata, 'starword.model_hash': expected } : metadata, progress, expected));
      } else {
        if (!o.model) throw new UserError(`--images needs --model (the CLIP folder whose vision tower ${kind} was trained on)`);
        const model = await loadClipModel(resolve(o.model));
        if (model.config.text.width !== phi.outputDim) {
          throw new UserError(`${kind} predicts ${phi.outputDim}-d tokens, the model's token width is ${model.config.text.width}: another model`);
        }
        const root = resolve(o.images!);
        const { images } = await listImageDir(root);
        if (!images.length) throw new UserError(`--images ${root}: no images in it`);
        const encoder = await createImageEncoder(model, sess);
        const pre = preprocessOptions({ imageSize: model.config.vision.imageSize, preprocessorConfig: model.preprocessorConfig });
        s = await locked(() => invertImages(images, out, phi, encoder, pre, { partSize: o.partSize, batchSize: o.batch, metadata: { ...metadata, 'starword.model_hash': model.hash }, progress }));
      }
      console.log(`invert: ${s.images} images now (${s.ok} ok, ${s.failed} failed), ${s.partsSkipped} of ${s.parts} parts already done, `
        + `${s.seconds.toFixed(1)} s; tokens in ${out}`);
    });
}

/** The mapping network the flags name: exactly one of --phi, --pic2word, --mapper with --mapper-file. */
function mapperChoice(o: InvertCliOptions): { kind: 'phi' | 'pic2word' | 'lincir'; path: string } {
  const given = [o.phi, o.pic2word, o.lincir, o.mapper ?? o.mapperFile].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UserError('give exactly one of --phi FILE, --pic2word FILE, --lincir FILE, or --mapper phi|pic2word|lincir with --mapper-file FILE');
  if (o.phi) return { kind: 'phi', path: o.phi };
  if (o.pic2word) return { kind: 'pic2word', path: o.pic2word };
  if (o.lincir) return { kind: 'lincir', path: o.lincir };
  if (o.mapper !== 'phi' && o.mapper !== 'pic2word' && o.mapper !== 'lincir') throw new UserError(`--mapper must be phi, pic2word or lincir, got '${o.mapper ?? ''}'`);
  if (!o.mapperFile) throw new UserError(`--mapper ${o.mapper} needs --mapper-file FILE`);
  return { kind: o.mapper, path: o.mapperFile };
}
