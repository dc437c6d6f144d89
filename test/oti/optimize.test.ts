import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import type { Device } from '../../clip/runtime/onnx-session.ts';
import { type OtiImage, optimizeBatch } from '../../stages/oti/optimize.ts';
import { SEARLE_OTI } from '../../stages/oti/stage.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { type DeviceTest, forEachDevice, lazy } from '../helpers/devices.ts';
import { TINY_MODEL_DIR, golden, relDiff, testCacheDir } from '../helpers/golden.ts';

const cacheDir = testCacheDir();
const world = lazy(async () => {
  const g = golden();
  const model = await loadClipModel(TINY_MODEL_DIR);
  const text = await createTextEncoder(model, { cacheDir });
  const targets = await text.encodeIds(g.oti.target_phrase_ids.map((r: number[]) => Int32Array.from(r)));
  const phrases = g.oti.phrase_ids.map((ids: number[], i: number) => ({ ids: Int32Array.from(ids), target: targets[i] }));
  const templates = g.oti.template_ids.map((r: number[]) => Int32Array.from(r));
  const image = (id: string, k: number, withPhrases = true): OtiImage =>
    ({ id, features: Float32Array.from(g.image.features[k % 2]), phrases: withPhrases ? phrases : [] });
  return { model, templates, image };
});

/** The loop's behaviour, wherever the batch's state lives: on the host, or in the graph (on the CPU and on WebGPU). */
function register(test: DeviceTest, device: Device, stateOnDevice: boolean): void {
  const setup = (async () => {
    const w = await world();
    return { ...w, session: await OtiSession.create(w.model, { cacheDir, threads: 1, device, stateOnDevice }) };
  });
  const memo = lazy(setup);
  const opts = { ...SEARLE_OTI, steps: 8, seed: 5 };

  test('a row whose loss turns non-finite is stopped and recorded; the rest of the batch goes on', async (t) => {
    const { session, templates, image } = await memo();
    const bad = image('bad', 0);
    bad.features = bad.features.map(() => NaN);
    const res = await optimizeBatch(session, [image('a', 0), bad, image('b', 1)], templates, opts);
    t.deepEqual(res.map((r) => r.status), ['ok', 'failed', 'ok']);
    t.regex(res[1].error ?? '', /non-finite loss or gradient at step 1/);
    t.is(res[1].steps, 0);
    for (const r of [res[0], res[2]]) {
      t.is(r.steps, 8);
      t.true(r.token.every(Number.isFinite) && r.ema.every(Number.isFinite));
      t.true(Number.isFinite(r.lcos) && Number.isFinite(r.lgpt));
    }
  });

  test('same seed, same tokens; another seed, other tokens; each image its own recorded seed', async (t) => {
    const { session, templates, image } = await memo();
    const run = (seed: number) => optimizeBatch(session, [image('a', 0), image('b', 1)], templates, { ...opts, seed });
    const [r1, r2, r3] = [await run(5), await run(5), await run(6)];
    t.deepEqual(Array.from(r1[0].ema), Array.from(r2[0].ema));
    t.notDeepEqual(Array.from(r1[0].ema), Array.from(r3[0].ema));
    t.not(r1[0].seed, r1[1].seed);
    t.is(r1[0].seed, r2[0].seed);
  });

  test('a warm start is where v* begins: zero steps return it unchanged', async (t) => {
    const { session, templates, image } = await memo();
    const init = Float32Array.from({ length: session.width }, (_, i) => Math.sin(i));
    const im = { ...image('a', 0), init };
    const [r0] = await optimizeBatch(session, [im], templates, { ...opts, steps: 0 });
    t.deepEqual(Array.from(r0.token), Array.from(init));
    t.deepEqual(Array.from(r0.ema), Array.from(init));
    const [r8] = await optimizeBatch(session, [im], templates, opts);
    t.notDeepEqual(Array.from(r8.token), Array.from(init));
    await t.throwsAsync(optimizeBatch(session, [{ ...im, init: new Float32Array(3) }], templates, opts), { message: /warm-start token for a has 3 values/ });
  });

  test('an image without phrases is inverted with L_cos alone (its L_gpt term is masked out)', async (t) => {
    const { session, templates, image } = await memo();
    const res = await optimizeBatch(session, [image('a', 0), image('lonely', 1, false)], templates, opts);
    t.deepEqual(res.map((r) => r.status), ['ok', 'ok']);
    t.is(res[1].lgpt, 0);
    t.true(res[0].lgpt > 0);
  });

  test('OTI lowers the loss: L_cos after 30 steps is below its value at the start', async (t) => {
    const { session, templates, image } = await memo();
    const [first] = await optimizeBatch(session, [image('a', 0)], templates, { ...opts, steps: 1 });
    const [later] = await optimizeBatch(session, [image('a', 0)], templates, { ...opts, steps: 30 });
    t.log(`L_cos ${first.lcos.toFixed(4)} → ${later.lcos.toFixed(4)}`);
    t.true(later.lcos < first.lcos);
  });

  test('padTo: an image\'s token does not depend on its batch mates (their number or their phrase lengths), bit for bit', async (t) => {
    const { session, templates, image } = await memo();
    const eos = 49407;
    // mates whose phrases are 30 ids longer than the golden ones: another padded length without padTo
    const longer = (im: ReturnType<typeof image>) => ({
      ...im,
      phrases: Array.from({ length: im.phrases.length }, (_, i) => im.phrases.at(i)!).map((p) => {
        const ids = Array.from(p.ids);
        const e = ids.indexOf(eos);
        return { ...p, ids: Int32Array.from([...ids.slice(0, e), ...Array(30).fill(320), ...ids.slice(e)].slice(0, 77)) };
      }),
    });
    const mates = [longer(image('m1', 1)), longer(image('m2', 0)), image('m3', 1, false)];
    const padded = { ...opts, batchSize: 4, padTo: 77 };
    const alone = (await optimizeBatch(session, [image('a', 0)], templates, padded))[0];
    const inBatch = (await optimizeBatch(session, [mates[0], image('a', 0), ...mates.slice(1)], templates, padded))[1];
    t.deepEqual(Array.from(inBatch.ema), Array.from(alone.ema));
    t.deepEqual(Array.from(inBatch.token), Array.from(alone.token));
    t.is(inBatch.seed, alone.seed);
    // a short batch returns only its own rows (the filler rows are dropped)
    t.is((await optimizeBatch(session, [image('a', 0), image('b', 1)], templates, padded)).length, 2);
    // without padTo the same two runs differ at float32 rounding level (logged, not asserted: it is ORT's business)
    const cutAlone = (await optimizeBatch(session, [image('a', 0)], templates, { ...opts, batchSize: 4 }))[0];
    const cutInBatch = (await optimizeBatch(session, [mates[0], image('a', 0), ...mates.slice(1)], templates, { ...opts, batchSize: 4 }))[1];
    t.log(`without padTo: largest EMA difference ${Math.max(...cutAlone.ema.map((x, i) => Math.abs(x - cutInBatch.ema[i]))).toExponential(2)}`);
  });

  test('gradientBatch: one run of 8 images gives the tokens of two batches of 4 (the loss\'s 1/B undone)', async (t) => {
    const { session, templates, image } = await memo();
    const ims = Array.from({ length: 8 }, (_, k) => image(`im${k}`, k));
    const small = { ...opts, steps: 20, batchSize: 4, gradientBatch: 4 };
    const byFour = [...await optimizeBatch(session, ims.slice(0, 4), templates, small), ...await optimizeBatch(session, ims.slice(4), templates, small)];
    const move = (rs: { token: Float32Array }[]) => Math.max(...rs.map((r, i) => relDiff(r.token, byFour[i].token)));
    const scaled = move(await optimizeBatch(session, ims, templates, { ...small, batchSize: 8 }));
    const plainMean = move(await optimizeBatch(session, ims, templates, { ...small, batchSize: 8, gradientBatch: undefined }));
    t.log(`largest relative move of a token: ${scaled.toExponential(2)} scaled, ${plainMean.toExponential(2)} with the plain mean over 8`);
    t.true(scaled < 1e-5);
    t.true(plainMean > 4 * Math.max(scaled, 1e-9), 'the plain mean moves tokens: the scaling is what keeps them');
  });
}

forEachDevice((deviceTest, device) => {
  if (device === 'cpu') {
    register((title, body) => deviceTest(`state on the host: ${title}`, body), device, false);
    register((title, body) => deviceTest(`state in the graph: ${title}`, body), device, true);
  } else {
    register(deviceTest, device, true);
  }

  // the two placements of the same loop: AdamW in float64-then-float32 JavaScript against AdamW in float32 graph nodes
  deviceTest('state in the graph gives the host loop\'s tokens (sampled phrases, a failed row, a row without phrases, gradientBatch)', async (t) => {
    const { model, templates, image } = await world();
    const [host, inGraph] = await Promise.all([false, true].map((stateOnDevice) => OtiSession.create(model, { cacheDir, threads: 1, device, stateOnDevice })));
    const bad = image('bad', 0);
    bad.features = bad.features.map(() => NaN);
    const batch = [image('a', 0), bad, image('b', 1), image('lonely', 1, false)];
    const o = { ...SEARLE_OTI, steps: 12, seed: 3, batchSize: 4, gradientBatch: 2 };
    const [rh, rg] = [await optimizeBatch(host, batch, templates, o), await optimizeBatch(inGraph, batch, templates, o)];
    t.deepEqual(rg.map((r) => [r.status, r.steps, r.error]), rh.map((r) => [r.status, r.steps, r.error]));
    let worst = 0;
    rh.forEach((r, i) => {
      if (r.status !== 'ok') return;
      for (const k of ['token', 'ema'] as const) worst = Math.max(worst, relDiff(rg[i][k], r[k]));
      t.true(Math.abs(r.lcos - rg[i].lcos) < 1e-5 && Math.abs(r.lgpt - rg[i].lgpt) < 1e-5);
    });
    t.log(`largest relative difference of a token or EMA after 12 steps: ${worst.toExponential(2)}`);
    t.true(worst < 1e-5);
    t.true(rg[1].token.every((x) => x === 0), 'the failed row is zeroed');
    await Promise.all([host.release(), inGraph.release()]);
  });
});
