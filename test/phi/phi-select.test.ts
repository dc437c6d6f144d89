/**
 * phi model selection: per-epoch CIRR val metrics in metrics.arrow, the best epoch by (R@5 + Rsubset@1)/2
 * marked and used by default; SEARLE's drop_last. First with a scripted validator on the synthetic run,
 * then on the toy world, where each recorded epoch must equal the evaluate stage run on that epoch's
 * snapshot.
 */
import test from 'ava';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { createImageEncoder } from '../../clip/towers/vision-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { runStage, stageContext } from '../../pipeline/stage-command.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as featuresSchema from '../../schemas/features.ts';
import * as metricsSchema from '../../schemas/phi-metrics.ts';
import { writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { resolveCheckpoint } from '../../stages/phi/checkpoint.ts';
import { loadCirr } from '../../stages/evaluate/cirr.ts';
import { evaluate } from '../../stages/evaluate/run-evaluate.ts';
import { loadPhiSafetensors } from '../../stages/phi/export.ts';
import { PhiPredictor } from '../../stages/phi/invert.ts';
import type { PhiOptions } from '../../stages/phi/train.ts';
import { SEARLE_PHI, phiOptions, phiStage, runPhi } from '../../stages/phi/stage.ts';
import { PHI_PARAMS, type PhiWeights, cloneWeights } from '../../stages/phi/phi-net.ts';
import { PartsGallery } from '../../stages/retrieve/gallery.ts';
import { phiTokenProvider } from '../../stages/retrieve/sources.ts';
import { Rng } from '../../util/rng.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { makeSyntheticModel, makeSyntheticRun } from './synthetic-run.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const made: string[] = [cacheDir];
const tmp = () => { const d = tempDir('phi-sel'); made.push(d); return d; };
test.after.always(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const readMetrics = (out: string) => metricsSchema.fromTable(tableFromIPC(readFileSync(join(out, 'metrics.arrow'))));

test('scripted validation: metrics per epoch, the best by the criterion (earliest on a tie), drop_last', async (t) => {
  const [modelDir, run] = await Promise.all([makeSyntheticModel(), makeSyntheticRun(160)]);
  made.push(modelDir, run);
  const model = await loadClipModel(modelDir);
  const tokenizer = ClipTokenizer.default();
  const text = await createTextEncoder(model, { cacheDir, threads: 1, tokenizer });
  // avg = (R@5 + Rsubset@1)/2: 15, 30, 30 (a tie: epoch 2 stays best), 5
  const script = [{ 'R@1': 1, 'R@5': 10, 'Rsubset@1': 20 }, { 'R@1': 2, 'R@5': 30, 'Rsubset@1': 30 }, { 'R@1': 3, 'R@5': 40, 'Rsubset@1': 20 }, { 'R@1': 4, 'R@5': 5, 'Rsubset@1': 5 }];
  const seen: PhiWeights[] = [];
  const o: PhiOptions = { ...SEARLE_PHI, epochs: 4, batchSize: 32, lr: 3e-3, checkpointEvery: 2 };
  const out = tmp();
  const s = await runPhi({
    runDir: run, outDir: out, src: model, text, tokenize: (x) => tokenizer.tokenize(x, 77), options: o, session: { cacheDir, threads: 1 },
    validate: async (_dims, w, epoch) => { seen.push(cloneWeights(w)); return script[epoch - 1]; },
  });
  t.is(s.train, 158); // SEARLE trains on every image: no held-out split by default
  const rows = readMetrics(out);
  t.deepEqual(rows.map((r) => r.epoch), [0, 1, 2, 3, 4]);
  t.true(Number.isNaN(rows[0].cirrR1));
  t.deepEqual(rows.slice(1).map((r) => [r.cirrR1, r.cirrR5, r.cirrRs1, r.cirrAvg]), [[1, 10, 20, 15], [2, 30, 30, 30], [3, 40, 20, 30], [4, 5, 5, 5]]);
  t.true(rows.slice(1).every((r) => Number.isNaN(r.cirrR10))); // not in the script: NaN, not 0
  // drop_last: 158 images, batches of 32 → 4 steps an epoch, not 5
  t.deepEqual(rows.map((r) => r.steps), [0, 4, 8, 12, 16]);
  t.is(s.best?.epoch, 2);

  const best = await resolveCheckpoint(out, join(out, 'phi.safetensors'), undefined);
  t.deepEqual([best.name, best.epoch], ['best', 2]);
  const last = await resolveCheckpoint(out, join(out, 'phi.safetensors'), 'last');
  t.is(last.epoch, 4);
  const snap2 = await resolveCheckpoint(out, join(out, 'phi.safetensors'), 2);
  const [b, s2, l] = await Promise.all([best.path, snap2.path, last.path].map((p) => loadPhiSafetensors(p)));
  for (const n of PHI_PARAMS) {
    t.deepEqual([...b.weights[n]], [...seen[1][n]], `best = the weights validated at epoch 2: ${n}`);
    t.deepEqual([...s2.weights[n]], [...seen[1][n]]);
    t.deepEqual([...l.weights[n]], [...seen[3][n]]);
  }
  await t.throwsAsync(resolveCheckpoint(out, join(out, 'phi.safetensors'), 3), { message: /no checkpoint of epoch 3 \(have 2, 4\)/ });

  // keep-last-batch: 5 steps an epoch
  const kept = await runPhi({ runDir: run, outDir: tmp(), src: model, text, tokenize: (x) => tokenizer.tokenize(x, 77), options: { ...o, epochs: 1, dropLast: false }, session: { cacheDir, threads: 1 } });
  t.is(kept.last?.steps, 5);
  t.is(kept.best, null);
  // fewer images than a batch: nothing would train, said in one line
  await t.throwsAsync(runPhi({ runDir: run, outDir: tmp(), src: model, text, tokenize: (x) => tokenizer.tokenize(x, 77), options: { ...o, batchSize: 256 }, session: { cacheDir, threads: 1 } }),
    { message: /158 training images, fewer than one batch of 256.*--keep-last-batch/ });
  await text.release?.();
});

test('toy world: phi --val-cirr records, per epoch, what evaluate says of that epoch\'s weights', async (t) => {
  const toy = join(import.meta.dirname, '..', '..', 'data', 'toyworld');
  const model = await loadClipModel(join(toy, 'model'));
  // a small CIRR val: the first 12 queries, their images as the gallery
  const caps = (JSON.parse(readFileSync(join(toy, 'bench', 'cirr', 'captions', 'cap.rc2.val.json'), 'utf8')) as { reference: string; target_hard: string; img_set: { members: string[] } }[]).slice(0, 12);
  const names = [...new Set(caps.flatMap((c) => [c.reference, c.target_hard, ...c.img_set.members]))].sort();
  const cirr = tmp();
  mkdirSync(join(cirr, 'captions')); mkdirSync(join(cirr, 'image_splits'));
  writeFileSync(join(cirr, 'captions', 'cap.rc2.val.json'), JSON.stringify(caps));
  writeFileSync(join(cirr, 'image_splits', 'split.rc2.val.json'), JSON.stringify(Object.fromEntries(names.map((n) => [n, `./gallery/${n}.png`]))));
  // the run (and the val index): toy-CLIP features of those images, random OTI tokens, no phrases (λ_gpt 0)
  const run = tmp();
  const enc = await createImageEncoder(model, { cacheDir, threads: 1 });
  const pre = preprocessOptions({ imageSize: model.config.vision.imageSize, preprocessorConfig: model.preprocessorConfig });
  const feats = await enc.encodePixels(await Promise.all(names.map((n) => preprocessImage(join(toy, 'bench', 'gallery', `${n}.png`), pre))));
  await enc.release?.();
  const rng = new Rng(5);
  const W = model.config.text.width;
  await writePart(stageDir(run, 'embed'), featuresSchema.KIND, 0, featuresSchema.toTable(names.map((n, i) => ({ imageId: `gallery/${n}.png`, features: feats[i] })), model.config.projectionDim), SCHEMA_VERSION);
  await writePart(stageDir(run, 'oti'), tokensSchema.KIND, 0, tokensSchema.toTable(names.map((n) => {
    const v = rng.fillNormal(new Float32Array(W));
    return { imageId: `gallery/${n}.png`, token: v, ema: v, lcos: 0.5, lgpt: NaN, steps: 1, seed: 0, status: 'ok' as const, error: null };
  }), W), SCHEMA_VERSION);
  const out = join(run, 'phi');
  const shared = { threads: 1, cacheDir, device: 'cpu' as const, logJson: false, force: false };
  const s = await runStage(phiStage, stageContext(run, model, shared, {}, () => {}),
    phiOptions.parse({ batch: 16, epochs: 3, lr: 1e-3, lambdaGpt: 0, checkpointEvery: 1, valCirr: cirr, valCirrIndex: run }));
  const rows = readMetrics(out).slice(1);
  t.is(rows.length, 3);
  const ann = loadCirr(cirr, 'val');
  const gallery = new PartsGallery(stageDir(run, 'embed'));
  const text = await createTextEncoder(model, { cacheDir, threads: 1 });
  for (const r of rows) {
    t.true(Number.isFinite(r.cirrR1) && Number.isFinite(r.cirrRs3), `epoch ${r.epoch} validated`);
    const ck = await resolveCheckpoint(out, join(out, 'phi.safetensors'), r.epoch);
    const phi = await PhiPredictor.open(ck.path, { cacheDir, threads: 1 });
    const rep = await evaluate(ann, gallery, { method: 'searle', text, tokens: phiTokenProvider(phi) });
    await phi.release();
    for (const [col, key, name] of metricsSchema.VAL_METRICS) t.true(Math.abs((r[key] ?? NaN) - rep.metrics[name]) < 1e-4, `epoch ${r.epoch} ${col}: ${r[key]} vs ${rep.metrics[name]}`);
  }
  await text.release?.();
  const avg = rows.map((r) => ((r.cirrR5 ?? NaN) + (r.cirrRs1 ?? NaN)) / 2);
  const bestEpoch = rows[avg.indexOf(Math.max(...avg))].epoch;
  t.is(s.best?.epoch, bestEpoch);
  t.is((await resolveCheckpoint(out, join(out, 'phi.safetensors'), undefined)).epoch, bestEpoch);
});
