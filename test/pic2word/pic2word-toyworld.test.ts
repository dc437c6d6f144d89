/**
 * Pic2Word where meaning exists: f_M trained on the toy world's 200 unlabeled images (embedded with its
 * tiny trained CLIP), then CIRCO val over its 1,024-image gallery. Pic2Word must beat image-only
 * retrieval by a wide margin, through the exported ONNX and the authors'-layout safetensors alike.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { openEncoders, openIndex } from '../../pipeline/retrieve-query.ts';
import { pic2wordTokenProvider } from '../../pipeline/pic2word-tokens.ts';
import { runIndex } from '../../pipeline/index-gallery.ts';
import { loadCirco } from '../../stages/evaluate/circo.ts';
import { evaluate } from '../../stages/evaluate/run-evaluate.ts';
import { PIC2WORD_DEFAULTS } from '../../stages/pic2word/options.ts';
import { Pic2WordPredictor } from '../../stages/pic2word/predictor.ts';
import { runPic2Word } from '../../stages/pic2word/run-pic2word.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { tempDir } from '../helpers/test-utils.ts';

const TOY = fileURLToPath(new URL('../../data/toyworld', import.meta.url));
const MODEL = join(TOY, 'model');
const cacheDir = testCacheDir();
const work = tempDir('p2w-toy');
test.after.always(() => { for (const d of [cacheDir, work]) rmSync(d, { recursive: true, force: true }); });

const embedOpts = { model: MODEL, partSize: 1000, batchSize: 64, preprocess: 'targetpad', cacheDir };

test('Pic2Word trained on the toy world\'s unlabeled images beats image-only retrieval on its CIRCO val', async (t) => {
  const model = await loadClipModel(MODEL);
  const train = join(work, 'train'), gallery = join(work, 'gallery');
  for (const [images, run] of [[join(TOY, 'phi-train'), train], [join(TOY, 'bench', 'gallery'), gallery]]) {
    await runIndex({ ...embedOpts, images, out: run }, () => {});
  }
  const tokenizer = await ClipTokenizer.forModelDir(MODEL);
  const out = join(work, 'p2w');
  // the authors' defaults except what 200 images cannot carry: their 10,000 warmup steps and batch 128
  // (6 steps a run); a short schedule with a higher peak rate instead (untrained, f_M scores mAP@5 ≈ 1)
  const s = await runPic2Word({
    source: train, outDir: out, src: model, tokenize: (x) => tokenizer.tokenize(x, model.config.text.ctx),
    options: { ...PIC2WORD_DEFAULTS, epochs: 8, batchSize: 32, lr: 2e-3, warmup: 10, valFraction: 0 }, session: { cacheDir },
  });
  t.is(s.train, 200);
  t.is(s.stepsPerEpoch, 6);
  t.true(Math.abs(s.logitScale - Math.exp(model.tensor('logit_scale')[0])) < 1e-3, 'the checkpoint\'s logit scale');

  const ann = loadCirco(join(TOY, 'bench', 'circo'), 'val');
  const index = openIndex(gallery);
  const enc = await openEncoders({ model: MODEL, device: 'cpu', cacheDir }, { text: true, image: false });
  const image = await evaluate(ann, index, { method: 'image' });
  const scores: Record<string, number> = {};
  for (const file of [s.files.onnx, s.files.safetensors]) {
    const tokens = await pic2wordTokenProvider({ pic2word: file, cacheDir });
    const r = await evaluate(ann, index, { method: 'pic2word', text: enc.text, tokens });
    scores[file] = r.metrics['mAP@5'];
    t.log(`${file.endsWith('.onnx') ? 'onnx' : 'safetensors'}: pic2word mAP@5 ${r.metrics['mAP@5'].toFixed(2)}, R@10 ${r.metrics['R@10']}`);
    t.is(r.unanswerable.length, 0);
  }
  t.log(`image-only mAP@5 ${image.metrics['mAP@5'].toFixed(2)}, R@10 ${image.metrics['R@10']}`);
  const [onnx, st] = Object.values(scores);
  t.true(Math.abs(onnx - st) < 1e-6, 'both exports give the same ranking');
  t.true(onnx > image.metrics['mAP@5'] + 10, `pic2word mAP@5 ${onnx} vs image-only ${image.metrics['mAP@5']}`);

  // the predictor serves one vector too (the serve command's use)
  const p = await Pic2WordPredictor.open(s.files.onnx, { cacheDir });
  const x = new Float32Array(model.config.projectionDim).fill(0.1);
  t.deepEqual(await p.predictOne(x), (await p.predict([x, x]))[1]);
  await p.release();
});
