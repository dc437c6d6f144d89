/**
 * The OTI gradient graph on an exact-GELU CLIP (`hidden_act: gelu`) against an independent float64
 * PyTorch reference (test/fixtures/tiny-clip-gelu/make_golden.py), with and without the prefix cache,
 * and against central finite differences on another random gelu model. The golden also holds what
 * quick_gelu would give, and each check shows it is far off.
 */
import test from 'ava';
import { presetConfig } from '../../clip/weights/make-model.ts';
import { randomWeightSource } from '../../clip/weights/random-weights.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { parseOtiProblem, solveOtiProblem } from '../../stages/oti/debug-problem.ts';
import { Rng } from '../../util/rng.ts';
import { GELU_MODEL_DIR, flat, geluGolden, maxAbsDiff, relDiff, testCacheDir } from '../helpers/golden.ts';

const cacheDir = testCacheDir();
const modelP = loadClipModel(GELU_MODEL_DIR);

for (const prefixCache of [true, false]) {
  test(`loss, L_cos, L_gpt and gradient at v0 match the gelu golden (prefix cache ${prefixCache ? 'on' : 'off'})`, async (t) => {
    const g = geluGolden();
    const model = await modelP;
    const [session, text] = await Promise.all([OtiSession.create(model, { cacheDir, prefixCache }), createTextEncoder(model, { cacheDir })]);
    const problem = parseOtiProblem({ ...g.oti, image_features: g.image.features, adamw: { steps: 0 } });
    const r = await solveOtiProblem(problem, session, text);
    const grad = flat(r.grad), want = flat(g.oti.grad_at_v0);
    t.log(`loss ${r.loss} vs ${g.oti.loss_at_v0} (quick_gelu ${g.oti.if_quick_gelu.loss_at_v0}); gradient max abs diff ${maxAbsDiff(grad, want).toExponential(2)}, rel ${relDiff(grad, want).toExponential(2)}`);
    t.true(Math.abs(r.loss - g.oti.loss_at_v0) < 1e-5);
    r.lcos.forEach((l, i) => t.true(Math.abs(l - g.oti.lcos_at_v0[i]) < 1e-5, `L_cos ${i}`));
    r.lgpt.forEach((l, i) => t.true(Math.abs(l - g.oti.lgpt_at_v0[i]) < 1e-5, `L_gpt ${i}`));
    t.true(relDiff(grad, want) < 1e-4);
    // quick_gelu's loss and gradient are well outside those tolerances
    t.true(Math.abs(g.oti.if_quick_gelu.loss_at_v0 - g.oti.loss_at_v0) > 1e-4);
    t.true(relDiff(flat(g.oti.if_quick_gelu.grad_at_v0), want) > 1e-2);
  });
}

test('the L_gpt path alone matches the gelu golden\'s grad_gpt_term_at_v0', async (t) => {
  const g = geluGolden();
  const model = await modelP;
  const [session, text] = await Promise.all([OtiSession.create(model, { cacheDir }), createTextEncoder(model, { cacheDir })]);
  // with λ_cos = 0 the graph's loss is mean(L_gpt); the golden term is λ_gpt·mean(L_gpt)/(λ_cos+λ_gpt) = that × 0.5/1.5
  const r = await solveOtiProblem(parseOtiProblem({ ...g.oti, image_features: g.image.features, lambda_cos: 0, adamw: { steps: 0 } }), session, text);
  const term = flat(r.grad).map((x) => (x * 0.5) / 1.5);
  const rel = relDiff(term, flat(g.oti.grad_gpt_term_at_v0));
  t.log(`gpt-term gradient rel ${rel.toExponential(2)}`);
  t.true(rel < 1e-3);
});

test('gelu OTI gradient matches central finite differences (random gelu model, 3 heads, MLP not 4×)', async (t) => {
  const cfg = presetConfig('tiny', { textWidth: 36, textHeads: 3, textMlp: 50, textLayers: 2, projectionDim: 20, vocab: 600,
    visionWidth: 16, visionLayers: 1, visionHeads: 2, visionMlp: 20, act: 'gelu' });
  t.is(cfg.text.act, 'gelu');
  // larger weights than make-model's so the MLP's pre-activations reach where GELU bends
  const base = randomWeightSource(cfg, 7);
  const src = { ...base, hash: `${base.hash}-x5`, tensor: (n: string) => { const a = base.tensor(n); return /norm|layrnorm/.test(n) ? a : a.map((x) => x * 5); } };
  const session = await OtiSession.create(src, { cacheDir, threads: 1 });
  const rng = new Rng(3);
  const B = 3, W = cfg.text.width, P = cfg.projectionDim;
  const { bos, eos } = cfg.text;
  const input = {
    v: rng.fillNormal(new Float32Array(B * W), 0.5), image: rng.fillNormal(new Float32Array(B * P)), target: rng.fillNormal(new Float32Array(B * P)),
    templateIds: [[bos, 5, 259, eos], [bos, 7, 8, 9, 259, 11, eos], [bos, 259, eos]],
    phraseIds: [[bos, 259, 20, 21, eos], [bos, 30, 31, 259, eos], [bos, 40, 41, 42, 43, 259, 44, 45, eos]],
    lambdaCos: 1, lambdaGpt: 0.5,
  };
  const at = async (v: Float32Array) => (await session.step({ ...input, v })).loss;
  const { grad } = await session.step(input);
  const eps = 2e-3;
  for (let k = 0; k < 4; k++) {
    const d = rng.fillNormal(new Float32Array(B * W));
    const fd = ((await at(input.v.map((x, i) => x + eps * d[i]))) - (await at(input.v.map((x, i) => x - eps * d[i])))) / (2 * eps);
    let an = 0;
    for (let i = 0; i < d.length; i++) an += grad[i] * d[i];
    t.log(`direction ${k}: analytic ${an.toExponential(4)}, finite difference ${fd.toExponential(4)}`);
    t.true(Math.abs(an - fd) <= 2e-2 * Math.abs(an) + 1e-5, `direction ${k}`);
  }
});
