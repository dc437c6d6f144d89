/**
 * Pic2Word's loss (src/trainer.py, get_loss_img2text): CLIP's symmetric InfoNCE between the normalised
 * image features and the normalised text features of the prompt with f_M's token, the i-th image
 * matching the i-th text:
 *   logits = s · Î T̂ᵀ  [B, B], s = exp(CLIP's logit_scale) (frozen: the authors read model.logit_scale)
 *   loss   = (CE(logits, arange B) + CE(logitsᵀ, arange B)) / 2
 * Cross-entropy is written as log-sum-exp − diagonal, with the row max held out, so large scales
 * (100 for OpenAI's CLIP) neither overflow nor lose the diagonal.
 */
import type { Graph, Value } from '../../clip/graph/graph.ts';
import * as op from '../../clip/graph/ops.ts';
import { logSumExp } from '../../clip/graph/ops-extra.ts';

export interface ContrastiveTerms {
  /** image → text cross-entropy, mean over the batch */
  imageToText: Value;
  /** text → image */
  textToImage: Value;
  /** their mean */
  total: Value;
  /** cos(image_i, text_i) per row [B] */
  cosine: Value;
}

/** image, text [B, P] (raw); `logitScale` a scalar value (already exponentiated). */
export function symmetricInfoNce(G: Graph, image: Value, text: Value, logitScale: Value): ContrastiveTerms {
  const i = op.l2Normalize(G, image), t = op.l2Normalize(G, text);
  const logits = op.mul(G, logitScale, op.matmul(G, i, op.transpose(G, t, [1, 0]))); // [B, B]
  const cosine = op.reduceSum(G, op.mul(G, i, t), [-1], false); // [B]
  const diag = op.mul(G, logitScale, cosine);
  const imageToText = op.reduceMeanDynamic(G, op.sub(G, logSumExp(G, logits, 1), diag), 0, false);
  const textToImage = op.reduceMeanDynamic(G, op.sub(G, logSumExp(G, logits, 0), diag), 0, false);
  const total = op.scale(G, op.add(G, imageToText, textToImage), 0.5);
  return { imageToText, textToImage, total, cosine };
}
