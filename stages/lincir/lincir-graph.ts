/**
 * LinCIR's training graph (one session.run per step): φ's weights are graph INPUTS (they change every
 * step), CLIP's text weights are constants; the gradient flows from the loss through the frozen text
 * tower into φ.
 *   inputs:  layers.{0,3,6}.{weight,bias} (SEARLE's Phi names, PyTorch layout); input [B, d] the phrase's
 *            unnormalised text feature plus noise (added by the host); mask1, mask2 [B, 4d] dropout masks
 *            (all ones in eval); msk_{ids,pmask,eot} the masked phrase rows (`$` where φ's token goes);
 *            target [B, d] the unnormalised text feature of the original phrase
 *   outputs: token [B, D] = φ(input); text [B, d] = text tower of the masked phrase with token at `$`;
 *            loss [] = mean over B·d of (text − target)² (F.mse_loss, reduction 'mean');
 *            cosine [B] cos(text, target); with gradients grad_<param> (d loss / d param)
 * The inference export is SEARLE's phi graph (features [B, d] → token [B, D]).
 */
import { gradients } from '../../clip/graph/autodiff.ts';
import { Graph, type Value } from '../../clip/graph/graph.ts';
import * as op from '../../clip/graph/ops.ts';
import { textTower, textTowerInputs, textWeights } from '../../clip/towers/text-graph.ts';
import { gradName } from '../../clip/training/graph-session.ts';
import { PHI_PARAMS, type PhiDims, type PhiParamValues, paramShape, phiForward } from '../../clip/training/searle-phi-net.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';

/** Part of every LinCIR graph's cache key: bump when this builder changes what it emits. */
export const LINCIR_GRAPH_VERSION = 1;

export function buildLincirTrainGraph(src: WeightSource, dims: PhiDims, withGradients: boolean): Graph {
  const P = src.config.projectionDim;
  if (dims.input !== P) throw new Error(`φ input dim ${dims.input} ≠ the model's projection dim ${P}`);
  if (dims.output !== src.config.text.width) throw new Error(`φ output dim ${dims.output} ≠ the model's token width ${src.config.text.width}`);
  const G = new Graph();
  const Wt = textWeights(G, src);
  const w = {} as PhiParamValues;
  for (const name of PHI_PARAMS) w[name] = G.input(name, 'float', paramShape(dims, name), withGradients);
  const input = G.input('input', 'float', ['B', P]);
  const masks: [Value, Value] = [G.input('mask1', 'float', ['B', dims.hidden]), G.input('mask2', 'float', ['B', dims.hidden])];
  const msk = textTowerInputs(G, 'msk', 'B', 'T');
  const target = G.input('target', 'float', ['B', P]);

  const token = phiForward(G, input, w, masks);
  const text = textTower(G, Wt, msk, token);
  const diff = op.sub(G, text, target);
  const perRow = op.reduceMean(G, op.mul(G, diff, diff), [1], false); // [B]
  const loss = op.reduceMeanDynamic(G, perRow, 0, false);
  const grads = withGradients ? gradients(G, loss, PHI_PARAMS.map((n) => w[n])) : [];
  G.output(token, 'token');
  G.output(op.stopGradient(text), 'text');
  G.output(loss, 'loss');
  G.output(op.stopGradient(op.cosine(G, text, target)), 'cosine');
  grads.forEach((g, i) => G.output(g, gradName(PHI_PARAMS[i])));
  return G;
}
