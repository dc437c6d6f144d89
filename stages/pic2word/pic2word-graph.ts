/**
 * Pic2Word's graphs.
 *
 * Training/eval graph (one session.run per step): f_M's weights are graph INPUTS (they change every
 * step), CLIP's text weights are constants.
 *   inputs:  the IM2TEXT parameters (authors' names, PyTorch layout); image [B, d] raw image features;
 *            mask0 … mask{n−1} [B, middle] dropout masks (all ones in eval); txt_{ids,pmask,eot} the
 *            prompt rows from the `$` on ("a photo of $": `$` where f_M's token goes, then the EOT);
 *            txt_pk, txt_pv [L, 1, H, P, dh] the keys and values of the P positions before `$` — the
 *            same for every row and step, so computed once (clip/towers/prefix-cache.ts) and broadcast over
 *            the batch here; logit_scale [] (exp of CLIP's)
 *   outputs: token [B, D], loss, loss_i2t, loss_t2i [], cosine [B] (image vs its prompt's text), text
 *            [B, P] (the prompt's raw text features), and
 *            with gradients grad_<param> for every weight (d loss / d param, PyTorch layout)
 *   token = f_M(image); text = CLIP text tower on the prompt with token at `$`;
 *   loss  = symmetric InfoNCE(image, text) (contrastive.ts)
 *
 * Inference graph (the export): image_features [B, d] → token [B, D], weights as initializers.
 */
import { gradients } from '../../clip/graph/autodiff.ts';
import { Graph, type Value } from '../../clip/graph/graph.ts';
import * as op from '../../clip/graph/ops.ts';
import { textTower, textTowerInputs, textWeights } from '../../clip/towers/text-graph.ts';
import type { WeightSource } from '../../clip/weights/weight-source.ts';
import { symmetricInfoNce } from './contrastive.ts';
import { type Im2TextDims, type Im2TextWeights, im2textForward, paramNames, paramShape } from './im2text.ts';

/** Part of every Pic2Word graph's cache key: bump when these builders change what they emit. */
export const PIC2WORD_GRAPH_VERSION = 2;

export { gradName } from '../../clip/training/graph-session.ts';
import { gradName } from '../../clip/training/graph-session.ts';
export const maskName = (block: number): string => `mask${block}`;

export function buildPic2WordTrainGraph(src: WeightSource, dims: Im2TextDims, withGradients: boolean): Graph {
  if (dims.input !== src.config.projectionDim) throw new Error(`f_M input dim ${dims.input} ≠ the model's projection dim ${src.config.projectionDim}`);
  if (dims.output !== src.config.text.width) throw new Error(`f_M output dim ${dims.output} ≠ the model's token width ${src.config.text.width}`);
  const G = new Graph();
  const Wt = textWeights(G, src);
  const names = paramNames(dims);
  const w: Record<string, Value> = {};
  for (const name of names) w[name] = G.input(name, 'float', paramShape(dims, name), withGradients);
  const image = G.input('image', 'float', ['B', dims.input]);
  const masks = Array.from({ length: dims.layers }, (_, i) => G.input(maskName(i), 'float', ['B', dims.middle]));
  const txt = textTowerInputs(G, 'txt', 'B', 'T');
  const { layers: L, heads: H, width } = src.config.text;
  // [L, 1, H, P, dh] → [L, B, H, P, dh]: Expand broadcasts against [1, B, 1, 1, 1]
  const batchDim = G.node('Slice', [G.node('Shape', [image], { shape: [2], dtype: 'int64', needsGrad: false }), G.constInt64([0]), G.constInt64([1])],
    { shape: [1], dtype: 'int64', needsGrad: false });
  const expandTo = G.node('Concat', [G.constInt64([1]), batchDim, G.constInt64([1, 1, 1])], { shape: [5], dtype: 'int64', needsGrad: false }, { axis: 0 });
  const prefix = (name: string) => G.node('Expand', [G.input(name, 'float', [L, 1, H, 'P', width / H]), expandTo],
    { shape: [L, 'B', H, 'P', width / H], needsGrad: false });
  txt.prefixK = prefix('txt_pk');
  txt.prefixV = prefix('txt_pv');
  const logitScale = G.input('logit_scale', 'float', []);

  const token = im2textForward(G, image, w, dims, masks);
  const text = textTower(G, Wt, txt, token);
  const loss = symmetricInfoNce(G, image, text, logitScale);
  const grads = withGradients ? gradients(G, loss.total, names.map((n) => w[n])) : [];
  G.output(token, 'token');
  G.output(loss.total, 'loss');
  G.output(loss.imageToText, 'loss_i2t');
  G.output(loss.textToImage, 'loss_t2i');
  G.output(op.stopGradient(loss.cosine), 'cosine');
  G.output(op.stopGradient(text), 'text');
  grads.forEach((g, i) => G.output(g, gradName(names[i])));
  return G;
}

/** The exported network: weights baked in as initializers. */
export function buildPic2WordInferenceGraph(dims: Im2TextDims, weights: Im2TextWeights): Graph {
  const G = new Graph();
  const w: Record<string, Value> = {};
  for (const name of paramNames(dims)) w[name] = G.weight(name, paramShape(dims, name), weights[name]);
  const x = G.input('image_features', 'float', ['B', dims.input]);
  G.output(im2textForward(G, x, w, dims, null), 'token');
  return G;
}
