/**
 * The pic2word, invert and retrieve commands end to end on a synthetic run (random features, a small
 * random CLIP with the OpenAI vocabulary), exact resume, the authors' state-dict layout on disk, the
 * sources it reads (run, embed folder, .arrow file, merged corpus), and the one-line refusals.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, truncateSync } from 'node:fs';

import { join } from 'node:path';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { partPaths } from '../../schemas/part-io.ts';
import { loadFeatureSet, locateFeatureFiles } from '../../stages/pic2word/dataset.ts';
import { PIC2WORD_DEFAULTS, type Pic2WordOptions } from '../../stages/pic2word/options.ts';
import { Pic2WordPredictor } from '../../stages/pic2word/predictor.ts';
import { runPic2Word } from '../../stages/pic2word/run-pic2word.ts';
import { readTokens } from '../../stages/retrieve/tokens.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { rawF32, readRawSafetensors } from '../helpers/model-files.ts';
import { makeSyntheticModel, makeSyntheticRun } from '../phi/synthetic-run.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const env = { ...process.env, STARWORD_CACHE_DIR: cacheDir };
const setup = Promise.all([makeSyntheticModel(), makeSyntheticRun(60)]);
const made: string[] = [cacheDir];
test.after.always(async () => {
  for (const d of [...made, ...(await setup)]) rmSync(d, { recursive: true, force: true });
});
const cli = (args: string[]) => spawnSync('node', ['bin/starword.js', ...args], { env, encoding: 'utf8' });
const tmp = (prefix: string) => { const d = tempDir(prefix); made.push(d); return d; };

const SMALL: Pic2WordOptions = { ...PIC2WORD_DEFAULTS, epochs: 3, batchSize: 16, warmup: 4, lr: 1e-3, middleDim: 24, valFraction: 0.2 };

test('pic2word trains into <run>/pic2word; invert --pic2word and retrieve --method pic2word use the export', async (t) => {
  const [model, run] = await setup;
  const r = cli(['pic2word', run, '--model', model, '--epochs', '2', '--batch', '16', '--warmup', '4', '--middle-dim', '24', '--threads', '1']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^pic2word: \d+ train \/ \d+ held-out images, \d steps per epoch, 2 epochs run now, epoch 2: train loss [\d.]+, held-out loss [\d.]+/);
  const dir = join(run, 'pic2word');
  for (const f of ['pic2word.onnx', 'pic2word.safetensors', 'metrics.arrow', 'losses.png', 'summary.json']) t.true(existsSync(join(dir, f)), f);
  // the authors' IM2TEXT state dict, read without starword's reader
  const st = readRawSafetensors(join(dir, 'pic2word.safetensors'));
  t.deepEqual(st.map((x) => `${x.name}:${x.shape.join('x')}:${x.dtype}`).sort(), [
    'fc_out.bias:16:F32', 'fc_out.weight:16x24:F32', 'layers.0.0.bias:24:F32', 'layers.0.0.weight:24x8:F32',
    'layers.1.0.bias:24:F32', 'layers.1.0.weight:24x24:F32',
  ]);
  t.true(st.every((x) => rawF32(x).every(Number.isFinite)));

  const out = tmp('starword-p2w-inv-');
  const inv = cli(['invert', '--pic2word', join(dir, 'pic2word.onnx'), '--features', join(run, 'embed'), '--out', out, '--threads', '1']);
  t.is(inv.status, 0, inv.stderr);
  t.regex(inv.stdout, /^invert: 60 images now \(60 ok, 0 failed\)/);
  const tokens = readTokens(out, ['img-0003']);
  const p = await Pic2WordPredictor.open(join(dir, 'pic2word.safetensors'), { cacheDir });
  const feats = loadFeatureSet(run).examples.find((e) => e.id === 'img-0003')!.features;
  const want = await p.predictOne(feats);
  await p.release();
  t.true(tokens.get('img-0003')!.every((x, i) => Math.abs(x - want[i]) < 1e-6), 'tokens part = predictor on the same features');
  const out2 = tmp('starword-p2w-inv2-');
  t.is(cli(['invert', '--mapper', 'pic2word', '--mapper-file', join(dir, 'pic2word.safetensors'), '--features', join(run, 'embed'), '--out', out2, '--threads', '1']).status, 0);
  t.deepEqual(readTokens(out2, ['img-0003']).get('img-0003'), tokens.get('img-0003'));

  const q = ['retrieve', '--method', 'pic2word', '--index', run, '--reference', 'img-0003', '--caption', 'is red', '--model', model, '--top-k', '5', '--threads', '1'];
  const viaModel = cli([...q.filter((a) => a !== '--method' && a !== 'pic2word'), '--pic2word', join(dir, 'pic2word.onnx')]); // --pic2word picks the method
  t.is(viaModel.status, 0, viaModel.stderr);
  const lines = viaModel.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; rank: number });
  t.is(lines.length, 5);
  t.false(lines.some((l) => l.id === 'img-0003'), 'the reference is left out of its own ranking');
  const viaTokens = cli([...q, '--tokens', out]);
  t.is(viaTokens.status, 0, viaTokens.stderr);
  t.deepEqual(viaTokens.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), lines.map((l) => l.id));
});

test('a run killed after an epoch resumes to the same weights as an unbroken run', async (t) => {
  const [modelDir, run] = await setup;
  const model = await loadClipModel(modelDir);
  const tokenizer = await ClipTokenizer.forModelDir(modelDir);
  const base = { source: run, src: model, tokenize: (x: string) => tokenizer.tokenize(x, 77), options: SMALL, session: { cacheDir, threads: 1 } };
  const a = tmp('starword-p2w-a-'), b = tmp('starword-p2w-b-');
  const whole = await runPic2Word({ ...base, outDir: a });
  const first = await runPic2Word({ ...base, outDir: b, stopAfterEpoch: 1 });
  t.is(first.last?.epoch, 1);
  const resumed = await runPic2Word({ ...base, outDir: b });
  t.is(resumed.resumedFrom, 1);
  t.is(resumed.epochsRunNow, 2);
  t.deepEqual(resumed.last, { ...whole.last!, seconds: resumed.last!.seconds });
  const wa = readRawSafetensors(join(a, 'pic2word.safetensors')), wb = readRawSafetensors(join(b, 'pic2word.safetensors'));
  t.deepEqual(wb.map((x) => [x.name, Array.from(rawF32(x))]), wa.map((x) => [x.name, Array.from(rawF32(x))]));
  // other options over the same checkpoints are refused
  await t.throwsAsync(runPic2Word({ ...base, outDir: b, options: { ...SMALL, lr: 5e-3 } }), { message: /other options, model or data/ });
});

test('features are read from a run, its embed folder, one .arrow file or a merged corpus', async (t) => {
  const [, run] = await setup;
  const parts = [0, 1].map((i) => partPaths(join(run, 'embed'), 'features', i).arrow);
  t.deepEqual(locateFeatureFiles(run), parts);
  t.deepEqual(locateFeatureFiles(join(run, 'embed')), parts);
  t.deepEqual(locateFeatureFiles(parts[1]), [parts[1]]);
  // `merge DIR` builds DIR/corpus, a run folder of every shard's parts: the sharded folder stands for it
  const sharded0 = tmp('starword-p2w-merged-');
  mkdirSync(join(sharded0, 'corpus', 'embed'), { recursive: true });
  for (const f of readdirSync(join(run, 'embed'))) copyFileSync(join(run, 'embed', f), join(sharded0, 'corpus', 'embed', f));
  const corpus = sharded0;
  const merged = loadFeatureSet(corpus);
  t.is(merged.examples.length, 60);
  t.deepEqual(merged.examples.map((e) => e.id), loadFeatureSet(run).examples.map((e) => e.id));
  // a part whose file no longer matches its marker is refused, naming it, never read as it is
  const cut = partPaths(join(sharded0, 'corpus', 'embed'), 'features', 1).arrow;
  truncateSync(cut, 100);
  t.throws(() => loadFeatureSet(corpus), { message: /features-00001\.arrow.*damaged: 100 bytes, its marker says/ });
  const sharded = tmp('starword-p2w-sharded-');
  mkdirSync(join(sharded, 'shard-00000-of-00002'));
  t.throws(() => locateFeatureFiles(sharded), { message: /run `starword merge/ });
});

test('bad options and inputs are refused with one line and exit 2', async (t) => {
  const [model, run] = await setup;
  const cases: [string[], RegExp][] = [
    [['pic2word', run, '--model', model, '--dropout', '1'], /--dropout must be in \[0, 1\)/],
    [['pic2word', run, '--model', model, '--batch', '500', '--out', join(run, 'p2w-big')], /--batch 500 is larger than the \d+ training images/],
    [['pic2word', join(run, 'nowhere'), '--model', model], /nowhere: no such file or folder/],
    [['invert', '--phi', 'a.onnx', '--pic2word', 'b.onnx', '--features', join(run, 'embed'), '--out', run], /exactly one of --phi FILE, --pic2word FILE/],
    [['retrieve', '--method', 'pic2word', '--index', run, '--reference', 'img-0003', '--caption', 'x', '--model', model], /method 'pic2word' needs --pic2word or --tokens/],
    [['retrieve', '--method', 'sum', '--pic2word', 'f.onnx', '--index', run, '--reference', 'img-0003', '--caption', 'x'], /--pic2word is for --method pic2word, not sum/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr.trim(), re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
