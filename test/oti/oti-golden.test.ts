import test from 'ava';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { parseOtiProblem, solveOtiProblem } from '../../stages/oti/debug-problem.ts';
import { forEachDevice, lazy } from '../helpers/devices.ts';
import { TINY_MODEL_DIR, flat, golden, relDiff, testCacheDir } from '../helpers/golden.ts';

const cacheDir = testCacheDir();

function problem(overrides: Record<string, unknown> = {}) {
  const g = golden();
  return parseOtiProblem({ ...g.oti, image_features: g.image.features, ...overrides });
}

// the same tolerances on both providers: WebGPU's float32 kernels sum in another order, which the golden
// tolerances (1e-5 absolute on losses, 1e-3/1e-4 relative on the gradient and the 5-step tokens) absorb
forEachDevice((deviceTest, device) => {
  const setup = lazy(async () => {
    const model = await loadClipModel(TINY_MODEL_DIR);
    const [session, text] = await Promise.all([OtiSession.create(model, { cacheDir, device }), createTextEncoder(model, { cacheDir, device })]);
    return { model, session, text };
  });

  deviceTest('loss, L_cos, L_gpt and gradient at v0 match golden.json', async (t) => {
    const g = golden().oti;
    const { session, text } = await setup();
    const r = await solveOtiProblem(problem(), session, text);
    t.log(`loss ${r.loss} vs ${g.loss_at_v0}; grad rel ${relDiff(flat(r.grad), flat(g.grad_at_v0)).toExponential(2)}`);
    t.true(Math.abs(r.loss - g.loss_at_v0) < 1e-5);
    r.lcos.forEach((l, i) => t.true(Math.abs(l - g.lcos_at_v0[i]) < 1e-5));
    r.lgpt.forEach((l, i) => t.true(Math.abs(l - g.lgpt_at_v0[i]) < 1e-5));
    t.true(relDiff(flat(r.grad), flat(g.grad_at_v0)) < 1e-3);
  });

  deviceTest('v* and EMA after 5 AdamW steps match golden.json', async (t) => {
    const g = golden().oti;
    const { session, text } = await setup();
    const r = await solveOtiProblem(problem(), session, text);
    const dv = relDiff(flat(r.v), flat(g.v_after_5)), de = relDiff(flat(r.ema), flat(g.ema_after_5));
    t.log(`v rel ${dv.toExponential(2)}, ema rel ${de.toExponential(2)}`);
    t.true(dv < 1e-4);
    t.true(de < 1e-4);
  });

  deviceTest('the L_gpt path alone matches golden grad_gpt_term_at_v0', async (t) => {
    // golden's gpt term is d/dv [λ_gpt·mean(L_gpt)/(λ_cos+λ_gpt)] with λ = (1, 0.5); with λ_cos = 0 the
    // graph's loss is mean(L_gpt), so the term is that gradient times 0.5/1.5.
    const g = golden().oti;
    const { session, text } = await setup();
    const r = await solveOtiProblem(problem({ lambda_cos: 0, lambda_gpt: 0.5 }), session, text);
    const term = flat(r.grad).map((x) => (x * 0.5) / 1.5);
    const rel = relDiff(term, flat(g.grad_gpt_term_at_v0));
    t.log(`gpt-term grad rel ${rel.toExponential(2)}`);
    t.true(rel < 1e-3);
  });
});

test('debug oti CLI prints the golden answer as one JSON line', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const g = golden();
  const out = execFileSync('node', ['bin/starword.js', 'debug', 'oti', '--model', TINY_MODEL_DIR], {
    input: JSON.stringify({ ...g.oti, image_features: g.image.features }), env: { ...process.env, STARWORD_CACHE_DIR: cacheDir },
  }).toString();
  const lines = out.trim().split('\n');
  t.is(lines.length, 1);
  const r = JSON.parse(lines[0]);
  t.deepEqual(Object.keys(r).sort(), ['ema', 'grad', 'lcos', 'lgpt', 'loss', 'v']);
  t.true(Math.abs(r.loss - g.oti.loss_at_v0) < 1e-5);
  t.true(relDiff(flat(r.ema), flat(g.oti.ema_after_5)) < 1e-4);
});

test('debug oti refuses a problem whose rows disagree, with one line and exit 2', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const g = golden();
  const res = spawnSync('node', ['bin/starword.js', 'debug', 'oti', '--model', TINY_MODEL_DIR], {
    input: JSON.stringify({ ...g.oti, image_features: [g.image.features[0]] }), env: { ...process.env, STARWORD_CACHE_DIR: cacheDir },
  });
  t.is(res.status, 2);
  const err = res.stderr.toString().trim();
  t.regex(err, /image_features has 1 rows, v0 has 2/);
  t.is(err.split('\n').length, 1);
});
