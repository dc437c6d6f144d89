/** phi training on a synthetic run: it learns, it resumes exactly, it exports, and invert's output is a warm start. */
import test from 'ava';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import * as metricsSchema from '../../schemas/phi-metrics.ts';
import type { PhiOptions } from '../../stages/phi/options.ts';
import { SEARLE_PHI } from '../../stages/phi/stage.ts';
import { runPhi } from '../../stages/phi/run-phi.ts';
import { PHI_PARAMS } from '../../stages/phi/phi-net.ts';
import { loadPhiSafetensors } from '../../stages/phi/export.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { makeSyntheticModel, makeSyntheticRun } from './synthetic-run.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const setup = (async () => {
  const [modelDir, run] = await Promise.all([makeSyntheticModel(), makeSyntheticRun(160)]);
  const model = await loadClipModel(modelDir);
  const tokenizer = ClipTokenizer.default();
  const text = await createTextEncoder(model, { cacheDir, threads: 1, tokenizer });
  return { model, run, text, tokenize: (s: string) => tokenizer.tokenize(s, 77) };
})();

const opts = (o: Partial<PhiOptions> = {}): PhiOptions => ({ ...SEARLE_PHI, epochs: 6, batchSize: 32, lr: 3e-3, valFraction: 0.2, ...o });

async function train(outDir: string, options: PhiOptions, stopAfterEpoch?: number) {
  const { model, run, text, tokenize } = await setup;
  return runPhi({ runDir: run, outDir, src: model, text, tokenize, options, session: { cacheDir, threads: 1 }, stopAfterEpoch });
}

const made: string[] = [cacheDir];
const tmp = () => { const d = tempDir('phi-out'); made.push(d); return d; };
test.after.always(async () => {
  const { model, run } = await setup;
  for (const d of [...made, model.dir, run]) rmSync(d, { recursive: true, force: true });
});

test('training lowers held-out L_distil and raises held-out cosine above its value at initialisation', async (t) => {
  const out = tmp();
  const s = await train(out, opts());
  const rows = metricsSchema.fromTable(tableFromIPC(readFileSync(join(out, 'metrics.arrow'))));
  t.deepEqual(rows.map((r) => r.epoch), [0, 1, 2, 3, 4, 5, 6]);
  const first = rows[0], last = rows[rows.length - 1];
  t.log(`held-out distil ${first.valDistil.toFixed(4)} → ${last.valDistil.toFixed(4)}, cosine ${first.valCosine.toFixed(4)} → ${last.valCosine.toFixed(4)}, `
    + `gpt ${first.valGpt.toFixed(4)} → ${last.valGpt.toFixed(4)}; ${s.meanEpochSeconds?.toFixed(3)} s/epoch`);
  t.is(s.images, 158); // 160 minus the two failed OTI rows
  t.true(s.val > 0 && s.train > 0 && s.phrases === 24);
  t.true(Number.isNaN(first.trainDistil));
  t.true(last.valDistil < first.valDistil - 0.05);
  t.true(last.valCosine > first.valCosine + 0.1);
  t.true(rows.slice(1).every((r) => Number.isFinite(r.trainGpt) && r.trainGpt > 0 && r.steps > 0));
  for (const f of ['phi.onnx', 'phi.onnx.data', 'phi.safetensors', 'losses.svg', 'losses.png', 'summary.json']) t.true(existsSync(join(out, f)), f);
  t.is(readFileSync(join(out, 'losses.png')).subarray(1, 4).toString(), 'PNG');
});

test('checkpoint and resume give the same weights as an uninterrupted run', async (t) => {
  const o = opts({ epochs: 3, checkpointEvery: 1 });
  const whole = tmp(), broken = tmp();
  await train(whole, o);
  const partial = await train(broken, o, 2);
  t.is(partial.last?.epoch, 2);
  const resumed = await train(broken, o);
  t.is(resumed.resumedFrom, 2);
  t.is(resumed.epochsRunNow, 1);
  const a = await loadPhiSafetensors(join(whole, 'phi.safetensors')), b = await loadPhiSafetensors(join(broken, 'phi.safetensors'));
  for (const n of PHI_PARAMS) t.deepEqual(Array.from(b.weights[n]), Array.from(a.weights[n]), n);
  const ma = metricsSchema.fromTable(tableFromIPC(readFileSync(join(whole, 'metrics.arrow'))));
  const mb = metricsSchema.fromTable(tableFromIPC(readFileSync(join(broken, 'metrics.arrow'))));
  t.deepEqual(mb.map((r) => r.valDistil), ma.map((r) => r.valDistil));
  // a rerun of a finished run trains nothing
  const again = await train(broken, o);
  t.is(again.epochsRunNow, 0);
  // other options in the same folder are refused
  await t.throwsAsync(train(broken, { ...o, lr: 1e-2 }), { message: /other options/ });
});

test('checkpoints are not resumed once the tokens they were trained on changed (an OTI redone otherwise)', async (t) => {
  const { model, text, tokenize } = await setup;
  const [run, other] = await Promise.all([makeSyntheticRun(64, 1), makeSyntheticRun(64, 2)]);
  made.push(run, other);
  const out = tmp();
  const o = opts({ epochs: 2, checkpointEvery: 1 });
  const go = (stopAfterEpoch?: number) => runPhi({ runDir: run, outDir: out, src: model, text, tokenize, options: o, session: { cacheDir, threads: 1 }, stopAfterEpoch });
  t.is((await go(1)).last?.epoch, 1);
  rmSync(join(run, 'oti'), { recursive: true });
  cpSync(join(other, 'oti'), join(run, 'oti'), { recursive: true }); // same image ids, other tokens
  await t.throwsAsync(go(), { message: /holds checkpoints of a phi run with other options, model or data/ });
});
