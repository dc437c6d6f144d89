/**
 * LinCIR training on a synthetic phrase store (tiny CLIP, targets its own text features): the held-out
 * loss falls, a run stopped (also by a step budget mid-round) and resumed ends with the weights of an
 * unbroken one, and the exports hold φ in SEARLE's Phi layout (safetensors, ONNX, LinCIR's .pt).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { PHI_PARAMS } from '../../clip/training/searle-phi-net.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { DIRECT_SOURCE, PhraseStore, conceptRuns, packTexts, writeStorePart } from '../../schemas/phrase-store.ts';
import { PhiPredictor } from '../../stages/phi/invert.ts';
import { loadPhiSafetensors } from '../../stages/phi/export.ts';
import { LINCIR_DEFAULTS, type LincirOptions } from '../../stages/lincir/options.ts';
import { KeyedPermutation, PhraseRows } from '../../stages/lincir/phrase-rows.ts';
import { runLincir } from '../../stages/lincir/run-lincir.ts';
import { Rng } from '../../util/rng.ts';
import { TINY_MODEL_DIR, relDiff, testCacheDir } from '../helpers/golden.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { OrderedDict, torchLoad } from '../helpers/python-formats.ts';

const cacheDir = testCacheDir();
const root = mkdtempSync(join(tmpdir(), 'starword-lincir-'));
test.after.always(() => { rmSync(cacheDir, { recursive: true, force: true }); rmSync(root, { recursive: true, force: true }); });

// the tiny model has no BPE: words map to ids of its vocabulary, `$` to 259
const WORDS = ['a', 'photo', 'of', 'the', 'red', 'blue', 'small', 'big', 'on', 'in', 'grass', 'table', 'street', 'water'];
const CONCEPTS = ['cat', 'dog', 'car', 'boat', 'cup', 'tree'];
const vocab = new Map([...WORDS, ...CONCEPTS].map((w, i) => [w, 300 + 7 * i]));

const setup = (async () => {
  const model = await loadClipModel(TINY_MODEL_DIR);
  const tokenize = (t: string) => Int32Array.from([model.config.text.bos, ...t.trim().split(/\s+/).map((w) => (w === '$' ? 259 : vocab.get(w)!)), model.config.text.eos]);
  const text = await createTextEncoder(model, { cacheDir, threads: 1 });
  const rng = new Rng(3);
  const concepts: string[] = [], phrases: string[] = [], swapped: string[] = [];
  for (const c of CONCEPTS) {
    for (let k = 0; k < 20; k++) {
      const w = () => WORDS[4 + rng.int(WORDS.length - 4)];
      const p = `a photo of the ${w()} ${c} ${w()} the ${w()}`;
      concepts.push(c); phrases.push(p); swapped.push(p.replace(c, '$'));
    }
  }
  const feats = await text.encodeIds(phrases.map(tokenize));
  await text.release?.();
  const dim = model.config.projectionDim;
  const targets = new Float32Array(phrases.length * dim);
  feats.forEach((f, i) => targets.set(f, i * dim));
  const phrasesDir = join(root, 'run', 'phrases');
  writeStorePart(phrasesDir, 0, { rows: 60, dim, runs: conceptRuns(concepts.slice(0, 60)), targets: targets.slice(0, 60 * dim),
    phrase: packTexts(phrases.slice(0, 60)), swapped: packTexts(swapped.slice(0, 60)) }, DIRECT_SOURCE);
  writeStorePart(phrasesDir, 1, { rows: 60, dim, runs: conceptRuns(concepts.slice(60)), targets: targets.slice(60 * dim),
    phrase: packTexts(phrases.slice(60)), swapped: packTexts(swapped.slice(60)) }, DIRECT_SOURCE);
  return { model, tokenize, phrasesDir, run: join(root, 'run') };
})();

const opts = (o: Partial<LincirOptions> = {}): LincirOptions => ({ ...LINCIR_DEFAULTS, steps: 60, logEvery: 20, batch: 16, lr: 3e-3, valPhrases: 24, checkpointEvery: 1, ...o });

async function train(out: string, o: LincirOptions, stopAfterEpoch?: number, session: SessionOptions = {}) {
  const { model, tokenize, run } = await setup;
  return runLincir({ source: run, outDir: out, src: model, tokenize, options: o, session: { cacheDir, threads: 1, ...session }, stopAfterEpoch });
}

test('the keyed permutation is a bijection, and the phrase rows split held-out from training rows', async (t) => {
  for (const n of [1, 2, 7, 100, 1000]) {
    const p = new KeyedPermutation(n, `k${n}`);
    t.deepEqual(Array.from({ length: n }, (_, i) => p.at(i)).sort((a, b) => a - b), [...Array(n).keys()]);
  }
  const { phrasesDir } = await setup;
  const store = await PhraseStore.open(phrasesDir, { dim: (await setup).model.config.projectionDim });
  const rows = new PhraseRows(store, 24, 0);
  t.is(rows.total, 120);
  const held = new Set(Array.from({ length: 24 }, (_, i) => rows.heldOut(i).id));
  const seen = new Set<number>();
  for (let s = 0; s < 6; s++) for (const r of rows.batch(s, 16)) seen.add(r.id);
  t.is(seen.size, 96, 'one pass over the 96 training rows visits each once');
  t.true([...seen].every((k) => !held.has(k)));
  store.close();
});

test('training lowers the held-out loss and raises the held-out cosine', async (t) => {
  const s = await train(join(root, 'whole'), opts());
  const first = s.last && JSON.parse(readFileSync(join(root, 'whole', 'summary.json'), 'utf8'));
  t.truthy(first);
  const { fromTable } = await import('../../schemas/lincir-metrics.ts');
  const { tableFromIPC } = await import('apache-arrow');
  const rows = fromTable(tableFromIPC(readFileSync(join(root, 'whole', 'metrics.arrow'))));
  t.deepEqual(rows.map((r) => r.steps), [0, 20, 40, 60]);
  t.log(`held-out loss ${rows[0].valLoss.toExponential(3)} → ${rows[3].valLoss.toExponential(3)}, cosine ${rows[0].valCosine.toFixed(4)} → ${rows[3].valCosine.toFixed(4)}`);
  t.true(rows[3].valLoss < 0.7 * rows[0].valLoss);
  t.true(rows[3].valCosine > rows[0].valCosine);
  t.true(rows.every((r) => r.lr === Math.fround(3e-3) || (r.epoch === 0 && Number.isNaN(r.lr))), 'a constant rate');
});

test('a run stopped after a round, or by a step budget mid-round, resumes to the unbroken run\'s weights', async (t) => {
  const whole = join(root, 'whole-2'), killed = join(root, 'killed'), budget = join(root, 'budget');
  await train(whole, opts());
  const partial = await train(killed, opts(), 1);
  t.is(partial.steps, 20);
  const resumed = await train(killed, opts());
  t.is(resumed.resumedFrom, 1);
  const cut = await train(budget, opts({ steps: 30 }));
  t.is(cut.steps, 30);
  const more = await train(budget, opts());
  t.is(more.steps, 60);
  const a = await loadPhiSafetensors(join(whole, 'lincir.safetensors'));
  for (const dir of [killed, budget]) {
    const b = await loadPhiSafetensors(join(dir, 'lincir.safetensors'));
    for (const n of PHI_PARAMS) t.deepEqual([...b.weights[n]], [...a.weights[n]], `${dir}: ${n}`);
  }
  const again = await train(whole, opts());
  t.is(again.roundsRunNow, 0, 'a finished run is not retrained');
});

test('the exports: SEARLE\'s Phi layout in safetensors and LinCIR\'s {epoch, Phi} .pt; the ONNX predicts the same tokens', async (t) => {
  const out = join(root, 'exports');
  await train(out, opts());
  const st = await loadPhiSafetensors(join(out, 'lincir.safetensors'));
  const ck = torchLoad(readFileSync(join(out, 'lincir.pt'))) as Map<string, unknown>;
  t.is(ck.get('epoch'), 60);
  const sd = ck.get('Phi') as OrderedDict;
  t.true(sd instanceof OrderedDict);
  t.deepEqual([...sd.keys()], [...PHI_PARAMS]);
  for (const n of PHI_PARAMS) t.deepEqual([...(sd.get(n) as { data: Float32Array }).data], [...st.weights[n]], n);
  const [onnx, fromSt] = await Promise.all([PhiPredictor.open(join(out, 'lincir.onnx'), { cacheDir, threads: 1 }), PhiPredictor.open(join(out, 'lincir.safetensors'), { cacheDir, threads: 1 })]);
  const x = [new Rng(9).fillNormal(new Float32Array(st.dims.input))];
  const [a] = await onnx.predict(x), [b] = await fromSt.predict(x);
  t.deepEqual([...a], [...b]);
});

test('bad input: a folder without phrases and a bad option are refused in one line', async (t) => {
  const { model, tokenize } = await setup;
  const empty = mkdtempSync(join(root, 'empty-'));
  await t.throwsAsync(runLincir({ source: empty, outDir: join(empty, 'out'), src: model, tokenize, options: opts() }), { message: /no phrases folder/ });
  const { run } = await setup;
  await t.throwsAsync(runLincir({ source: run, outDir: join(root, 'bad'), src: model, tokenize, options: opts({ dropout: 1 }) }), { message: /lincir option dropout/ });
});

// the trainer's device path (weights, gradients and AdamW moments kept as device tensors, AdamW as a graph: forced on
// the CPU provider, WebGPU's default) against the host path on the CPU. 40 steps at lr 3e-3 on a loss near 1e-5, where
// AdamW's m/√v magnifies float32 rounding more than phi's: measured 2.8e-6 (CPU) and 6.7e-6 (lavapipe); bound 5e-5
const hostRun = lazy(async () => { await train(join(root, 'host-path'), opts({ steps: 40 })); return loadPhiSafetensors(join(root, 'host-path', 'lincir.safetensors')); });
forEachDevice((deviceTest, device) => {
  deviceTest('with its state on the device, a run stopped after a round and resumed ends at the host path\'s weights', async (t) => {
    const out = join(root, `device-path-${device}`);
    t.is((await train(out, opts({ steps: 40 }), 1, { device, stateOnDevice: true })).steps, 20);
    t.is((await train(out, opts({ steps: 40 }), undefined, { device, stateOnDevice: true })).resumedFrom, 1);
    const [a, b] = [await hostRun(), await loadPhiSafetensors(join(out, 'lincir.safetensors'))];
    let worst = 0;
    for (const n of PHI_PARAMS) {
      const d = relDiff(b.weights[n], a.weights[n]);
      worst = Math.max(worst, d);
      t.true(d < 5e-5, `${n}: ${d}`);
    }
    t.log(`weights within ${worst.toExponential(2)} of the host path`);
  });
});
