/**
 * Loss pieces shared by OTI and phi (both train against CLIP's text tower).
 *
 *   L_cos(v, img)    = 1 − cos(text(template with v at $), img)           per row [B]
 *   L_gpt(v, target) = 1 − cos(text(phrase with v at $), text(phrase))    per row [B]
 *
 * text(phrase) is a constant fed as `target`, computed once per phrase by the caller.
 */
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { type TextTowerInputs, type TextWeights, textTower } from '../towers/text-graph.ts';

/** 1 − cos(a, b) per row: a, b [B, P] → [B]. */
export function oneMinusCosine(G: Graph, a: Value, b: Value): Value {
  return op.sub(G, G.constFloat(1), op.cosine(G, a, b));
}

/** L_gpt per row [B] for pseudo-tokens `pseudo` [B, W] in the phrase tower `phrase`. */
export function gptLoss(G: Graph, Wt: TextWeights, phrase: TextTowerInputs, pseudo: Value, target: Value): Value {
  return oneMinusCosine(G, textTower(G, Wt, phrase, pseudo), target);
}
