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
import { Graph } from '../../clip/graph/graph.ts';
import { gradients } from '../../clip/graph/autodiff.ts';
import * as op from '../../clip/graph/ops.ts';
import { gptLoss, oneMinusCosine } from '../../clip/training/losses.ts';
import { textTower, textTowerInputs, textWeights } from '../../clip/towers/text-graph.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';

/**
 * `prefixCache`: both towers also take the keys/values of the positions before their rows' first `$`
 * (tpl_pk/tpl_pv, phr_pk/phr_pv, [L, B, H, P, dh]) and their ids are the positions after them.
 */
export function buildOtiGraph(src: WeightSource, prefixCache = false): Graph {
  const G = new Graph();
  const W = src.config.text.width, P = src.config.projectionDim;
  const Wt = textWeights(G, src);
  const v = G.input('v', 'float', ['B', W], true);
  const image = G.input('image', 'float', ['B', P]);
  const target = G.input('target', 'float', ['B', P]);
  const cache = prefixCache ? src.config.text : undefined;
  const tpl = textTowerInputs(G, 'tpl', 'B', 'Tt', cache);
  const phr = textTowerInputs(G, 'phr', 'B', 'Tp', cache);
  const lc = G.input('lambda_cos', 'float', []);
  const lg = G.input('lambda_gpt', 'float', []);
  const gptMask = G.input('gpt_mask', 'float', ['B']);

  const lcos = oneMinusCosine(G, textTower(G, Wt, tpl, v), image); // [B]
  const lgpt = op.mul(G, gptLoss(G, Wt, phr, v, target), gptMask); // [B]
  const weighted = op.add(G, op.mul(G, lc, op.reduceMeanDynamic(G, lcos, 0, false)), op.mul(G, lg, op.reduceMeanDynamic(G, lgpt, 0, false)));
  const loss = op.div(G, weighted, op.add(G, lc, lg));
  const [grad] = gradients(G, loss, [v]);
  G.output(lcos, 'lcos');
  G.output(lgpt, 'lgpt');
  G.output(loss, 'loss');
  G.output(grad, 'grad');
  return G;
}
