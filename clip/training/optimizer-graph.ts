/**
 * AdamW over every parameter of a network as one graph (clip/training/adamw-graph.ts per parameter): with state on
 * the device the trainer runs it once per step, so weights, gradients and moments never leave the device. Inputs
 * per parameter `<param>`: `w:<param>`, `grad:<param>`, `m:<param>`, `v:<param>` and its [8] hyper-parameters
 * `hp:<param>` (adamwHyper: per-parameter options and the step's learning rate); outputs `new_w:`, `new_m:`, `new_v:`.
 */
import { Graph } from '../graph/graph.ts';
import { ADAMW_HYPER_SIZE, adamwStep } from './adamw-graph.ts';
import type { ParamSpec } from './trained-params.ts';

/** Bump when the graph below changes. */
export const OPTIMIZER_GRAPH_VERSION = 1;

export const optimizerName = {
  weight: (p: string) => `w:${p}`, grad: (p: string) => `grad:${p}`, m: (p: string) => `m:${p}`, v: (p: string) => `v:${p}`, hyper: (p: string) => `hp:${p}`,
  newWeight: (p: string) => `new_w:${p}`, newM: (p: string) => `new_m:${p}`, newV: (p: string) => `new_v:${p}`,
};

export function buildAdamWGraph(params: readonly ParamSpec[]): Graph {
  const G = new Graph();
  const n = optimizerName;
  for (const { name, shape } of params) {
    const param = G.input(n.weight(name), 'float', shape), grad = G.input(n.grad(name), 'float', shape);
    const m = G.input(n.m(name), 'float', shape), s = G.input(n.v(name), 'float', shape);
    const hp = G.input(n.hyper(name), 'float', [ADAMW_HYPER_SIZE]);
    const next = adamwStep(G, { param, m, s }, grad, hp);
    G.output(next.param, n.newWeight(name));
    G.output(next.m, n.newM(name));
    G.output(next.s, n.newV(name));
  }
  return G;
}
