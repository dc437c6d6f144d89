/**
 * The OTI step graph: for a batch of pseudo-tokens v* it returns the per-row losses, SEARLE's loss and
 * dLoss/dv*, in one session.run.
 *
 * inputs:  v [B, W]; image [B, P]; target [B, P] (text(phrase), constant);
 *          tpl_{ids,pmask,eot} (template rows, "a photo of $" …), phr_{ids,pmask,eot} (phrase rows with $);
 *          gpt_mask [B] (1, or 0 for a row without phrases: its L_gpt term is dropped); lambda_cos [], lambda_gpt []
 * outputs: lcos [B], lgpt [B], loss [], grad [B, W]
 * loss = (λ_cos·mean(lcos) + λ_gpt·mean(lgpt)) / (λ_cos + λ_gpt)   (SEARLE)
 */
import { Graph, type Value } from '../../clip/graph/graph.ts';
import { ADAMW_HYPER_SIZE, adamwStep, emaStep, select } from '../../clip/training/adamw-graph.ts';
import { gradients } from '../../clip/graph/autodiff.ts';
import * as op from '../../clip/graph/ops.ts';
import { gptLoss, oneMinusCosine } from '../../clip/training/losses.ts';
import { type TextTowerInputs, type TextWeights, prefixKeyValues, textTower, textTowerInputs, textWeights } from '../../clip/towers/text-graph.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';

/**
 * `prefixCache`: both towers also take the keys/values of the positions before their rows' first `$`
 * (tpl_pk/tpl_pv, phr_pk/phr_pv, [L, B, H, P, dh]) and their ids are the positions after them.
 */
export function buildOtiGraph(src: WeightSource, prefixCache = false): Graph {
  const G = new Graph();
  const Wt = textWeights(G, src);
  const cache = prefixCache ? src.config.text : undefined;
  const o = otiLossAndGradient(G, Wt, textTowerInputs(G, 'tpl', 'B', 'Tt', cache), textTowerInputs(G, 'phr', 'B', 'Tp', cache));
  G.output(o.lcos, 'lcos');
  G.output(o.lgpt, 'lgpt');
  G.output(o.loss, 'loss');
  G.output(o.grad, 'grad');
  return G;
}

/** v, image, target, the λs and gpt_mask as inputs; the two towers' inputs given. */
function otiLossAndGradient(G: Graph, Wt: TextWeights, tpl: TextTowerInputs, phr: TextTowerInputs) {
  const W = Wt.cfg.width, P = Wt.projT.shape[1];
  const v = G.input('v', 'float', ['B', W], true);
  const image = G.input('image', 'float', ['B', P]);
  const target = G.input('target', 'float', ['B', P]);
  const lc = G.input('lambda_cos', 'float', []);
  const lg = G.input('lambda_gpt', 'float', []);
  const gptMask = G.input('gpt_mask', 'float', ['B']);

  const lcos = oneMinusCosine(G, textTower(G, Wt, tpl, v), image); // [B]
  const lgpt = op.mul(G, gptLoss(G, Wt, phr, v, target), gptMask); // [B]
  const weighted = op.add(G, op.mul(G, lc, op.reduceMeanDynamic(G, lcos, 0, false)), op.mul(G, lg, op.reduceMeanDynamic(G, lgpt, 0, false)));
  const loss = op.div(G, weighted, op.add(G, lc, lg));
  const [grad] = gradients(G, loss, [v]);
  return { v, lcos, lgpt, loss, grad };
}

/**
 * A tower's inputs whose prefix keys and values are computed in the graph, on the device, instead of fed:
 * <p>_prefix_ids [U, P] are the step's distinct prefixes and <p>_prefix_row [B] (int64) the one of each row.
 * The U prefixes cost a forward of U·P positions a step, against a host cache's upload of B·P positions' keys
 * and values (98% of a step's transfers at B/32).
 */
function towerWithDevicePrefix(G: Graph, Wt: TextWeights, name: string, len: string): TextTowerInputs {
  const { layers, heads, width } = Wt.cfg;
  const inputs = textTowerInputs(G, name, 'B', len);
  const ids = G.input(`${name}_prefix_ids`, 'int64', [`${name}_U`, `${name}_P`]);
  const row = G.input(`${name}_prefix_row`, 'int64', ['B']);
  const { k, v } = prefixKeyValues(G, Wt, ids); // [L, U, H, P, dh]
  const shape = [layers, 'B', heads, `${name}_P`, width / heads];
  const perRow = (x: Value) => G.node('Gather', [x, row], { shape, needsGrad: false }, { axis: 1 });
  return { ...inputs, prefixK: perRow(k), prefixV: perRow(v) };
}

/**
 * OTI's step with its state on the device: the loss and gradient above, then AdamW and the EMA in the graph, so
 * v*, both moments and the EMA go from one run to the next without leaving the device (stages/oti/batch-state.ts).
 *
 * extra inputs: m, s, ema [B, W] (AdamW's moments, the EMA); active [B] (1: the row is still optimised);
 *               grad_scale [] (B/gradientBatch or 1); hp [8] (adamwHyper); ema_decay [2] (decay, 1 − decay)
 * outputs:      v_next, m_next, s_next, ema_next [B, W]; lcos, lgpt [B]; loss []; ok [B] (1: loss and gradient finite)
 * A row that is active but not ok is zeroed and stops (optimize.ts's failed row); inactive rows keep their state.
 */
export function buildOtiDeviceGraph(src: WeightSource): Graph {
  const G = new Graph();
  const Wt = textWeights(G, src);
  const W = src.config.text.width;
  const o = otiLossAndGradient(G, Wt, towerWithDevicePrefix(G, Wt, 'tpl', 'Tt'), towerWithDevicePrefix(G, Wt, 'phr', 'Tp'));
  const m = G.input('m', 'float', ['B', W]);
  const s = G.input('s', 'float', ['B', W]);
  const ema = G.input('ema', 'float', ['B', W]);
  const active = G.input('active', 'float', ['B']);
  const gradScale = G.input('grad_scale', 'float', []);
  const hp = G.input('hp', 'float', [ADAMW_HYPER_SIZE]);
  const emaDecay = G.input('ema_decay', 'float', [2]);
  const n = (opType: string, inputs: Value[], shape: Value['shape'], dtype: Value['dtype'] = 'float', attrs = {}) =>
    G.node(opType, inputs, { shape, dtype, needsGrad: false }, attrs);

  // x − x is 0 for a finite x and NaN for ±Inf or NaN; a row's sum of them is 0 exactly when all are finite
  const nonFinite = (x: Value) => n('Sub', [x, x], x.shape);
  const rowCheck = n('Add', [n('ReduceSum', [nonFinite(o.grad), G.constInt64([1])], ['B'], 'float', { keepdims: 0 }),
    n('Add', [nonFinite(o.lcos), nonFinite(o.lgpt)], ['B'])], ['B']);
  const ok = n('Cast', [n('Equal', [rowCheck, G.constFloat(0)], ['B'], 'bool')], ['B'], 'float', { to: 1 });
  const keepRow = n('Mul', [active, ok], ['B']); // still optimised and finite now
  const keep = n('Unsqueeze', [n('Greater', [keepRow, G.constFloat(0.5)], ['B'], 'bool'), G.constInt64([1])], ['B', 1], 'bool');
  // a row failing now is zeroed, as the host loop does, so the batch's next steps stay finite
  const failingNow = n('Sub', [active, keepRow], ['B']);
  const held = n('Mul', [o.v, n('Unsqueeze', [n('Sub', [G.constFloat(1), failingNow], ['B']), G.constInt64([1])], ['B', 1])], ['B', W]);

  const at = (i: number) => n('Gather', [emaDecay, G.constInt64([i], [])], []);
  const next = adamwStep(G, { param: o.v, m, s }, n('Mul', [o.grad, gradScale], ['B', W]), hp);
  const vNext = select(G, keep, next.param, held);
  G.output(vNext, 'v_next');
  G.output(select(G, keep, next.m, m), 'm_next');
  G.output(select(G, keep, next.s, s), 's_next');
  G.output(select(G, keep, emaStep(G, ema, vNext, at(0), at(1)), ema), 'ema_next');
  G.output(o.lcos, 'lcos');
  G.output(o.lgpt, 'lgpt');
  G.output(o.loss, 'loss');
  G.output(ok, 'ok');
  return G;
}
