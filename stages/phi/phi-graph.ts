/**
 * phi's graphs.
 *
 * Training/eval graph (one session.run per step): phi's weights are graph INPUTS (they change every
 * step), CLIP's text weights are constants.
 *   inputs:  layers.{0,3,6}.{weight,bias} (PyTorch layout); image [B, d] raw features; oti [B, D] EMA
 *            tokens; mask1, mask2 [B, 4d] dropout masks (all ones in eval); phr_{ids,pmask,eot} the
 *            swapped phrase rows; target [B, P] text(phrase); gpt_weight [B] (1/n for the n rows with a
 *            phrase, else 0); lambda_distil, lambda_gpt, temperature []
 *   outputs: phi_out [B, D], distil, gpt, total [], lgpt [B], cosine [B] (phi_out vs oti),
 *            and with gradients grad_<param> for every weight (d total / d param, PyTorch layout)
 *   distil = NT-Xent(oti, phi_out, τ) (oti first, as SEARLE calls it)
 *   gpt    = Σ gpt_weight · (1 − cos(text(phrase with phi_out at $), target))
 *   total  = λ_distil·distil + λ_gpt·gpt
 *
 * Inference graph (the export): image_features [B, d] → token [B, D], weights as initializers.
 */
import { gradients } from '../../clip/graph/autodiff.ts';
import { Graph, type Value } from '../../clip/graph/graph.ts';
import * as op from '../../clip/graph/ops.ts';
import { gptLoss } from '../../clip/training/losses.ts';
import { textTowerInputs, textWeights } from '../../clip/towers/text-graph.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { ntXent } from './nt-xent.ts';
import { buildSearlePhiInferenceGraph } from '../../clip/training/searle-phi-net.ts';
import { PHI_PARAMS, type PhiDims, type PhiParamValues, type PhiWeights, paramShape, phiForward } from './phi-net.ts';

/** Part of every phi graph's cache key: bump when these builders change what they emit. */
export const PHI_GRAPH_VERSION = 1;

export { gradName } from '../../clip/training/graph-session.ts';
import { gradName } from '../../clip/training/graph-session.ts';

export function buildPhiTrainGraph(src: WeightSource, dims: PhiDims, withGradients: boolean): Graph {
  if (dims.input !== src.config.projectionDim) throw new Error(`phi input dim ${dims.input} ≠ the model's projection dim ${src.config.projectionDim}`);
  if (dims.output !== src.config.text.width) throw new Error(`phi output dim ${dims.output} ≠ the model's token width ${src.config.text.width}`);
  const G = new Graph();
  const Wt = textWeights(G, src);
  const w = {} as PhiParamValues;
  for (const name of PHI_PARAMS) w[name] = G.input(name, 'float', paramShape(dims, name), withGradients);
  const image = G.input('image', 'float', ['B', dims.input]);
  const oti = G.input('oti', 'float', ['B', dims.output]);
  const masks: [Value, Value] = [G.input('mask1', 'float', ['B', dims.hidden]), G.input('mask2', 'float', ['B', dims.hidden])];
  const phr = textTowerInputs(G, 'phr', 'B', 'T');
  const target = G.input('target', 'float', ['B', src.config.projectionDim]);
  const gptWeight = G.input('gpt_weight', 'float', ['B']);
  const lambdaDistil = G.input('lambda_distil', 'float', []);
  const lambdaGpt = G.input('lambda_gpt', 'float', []);
  const temperature = G.input('temperature', 'float', []);

  const out = phiForward(G, image, w, masks);
  const distil = ntXent(G, oti, out, temperature);
  const lgpt = gptLoss(G, Wt, phr, out, target); // [B]
  const gpt = op.reduceSum(G, op.mul(G, lgpt, gptWeight), [0], false);
  const total = op.add(G, op.mul(G, lambdaDistil, distil), op.mul(G, lambdaGpt, gpt));
  const grads = withGradients ? gradients(G, total, PHI_PARAMS.map((n) => w[n])) : [];
  G.output(out, 'phi_out');
  G.output(distil, 'distil');
  G.output(gpt, 'gpt');
  G.output(total, 'total');
  G.output(lgpt, 'lgpt');
  G.output(op.stopGradient(op.cosine(G, out, oti)), 'cosine');
  grads.forEach((g, i) => G.output(g, gradName(PHI_PARAMS[i])));
  return G;
}

/** The exported network: weights baked in as initializers. */
export function buildPhiInferenceGraph(dims: PhiDims, weights: PhiWeights): Graph {
  return buildSearlePhiInferenceGraph(dims, weights);
}
