/**
 * PALAVRA's contrastive loss as SEARLE calls it for L_distil, written as the reference does (not as a
 * logsumexp) so the numbers match it:
 *   v1, v2 ← normalise(v1), normalise(v2)
 *   numerator   = exp(diag(v1·v2ᵀ)/τ), duplicated (cat twice)
 *   pairs       = exp(joint·jointᵀ/τ) with joint = cat(v1, v2)
 *   denominator = column sums of pairs with the diagonal masked out
 *   loss        = −mean(log(numerator / denominator))
 */
import type { Graph, Value } from '../../clip/graph/graph.ts';
import * as op from '../../clip/graph/ops.ts';
import { concat, offDiagonalMask } from '../../clip/graph/ops-extra.ts';

/** v1, v2 [B, D]; `temperature` a scalar value. Returns the scalar loss. */
export function ntXent(G: Graph, v1: Value, v2: Value, temperature: Value): Value {
  const a = op.l2Normalize(G, v1), b = op.l2Normalize(G, v2);
  const diag = op.reduceSum(G, op.mul(G, a, b), [-1], false); // [B]
  const num = op.exp(G, op.div(G, diag, temperature));
  const numerator = concat(G, [num, num], 0, '2B'); // [2B]
  const joint = concat(G, [a, b], 0, '2B'); // [2B, D]
  const pairs = op.exp(G, op.div(G, op.matmul(G, joint, op.transpose(G, joint, [1, 0])), temperature)); // [2B, 2B]
  const denominator = op.reduceSum(G, op.mul(G, pairs, offDiagonalMask(G, pairs)), [0], false); // [2B]
  const logs = op.log(G, op.div(G, numerator, denominator));
  return op.scale(G, op.reduceMeanDynamic(G, logs, 0, false), -1);
}
