/**
 * Reverse mode over the graph's tape: seeds d(loss)/d(loss) = 1, walks the recorded ops backwards and
 * emits each op's vector-Jacobian product as more ONNX nodes, summing gradients where a value fans out.
 * Only values marked needsGrad get gradients, so constants (CLIP's weights during OTI) cost nothing.
 */
import type { Graph, Value } from './graph.ts';

export function gradients(G: Graph, loss: Value, wrt: Value[], seed?: Value): Value[] {
  const grads = new Map<string, Value>();
  grads.set(loss.name, seed ?? G.constFloat(1, loss.shape.map((d) => (typeof d === 'number' ? d : 1))));
  const wasRecording = G.recording;
  G.recording = false;
  try {
    for (let i = G.tape.length - 1; i >= 0; i--) {
      const entry = G.tape[i];
      const g = grads.get(entry.output.name);
      if (!g) continue;
      const inputGrads = entry.backward(g);
      entry.inputs.forEach((input, k) => {
        const gi = inputGrads[k];
        if (!gi || !input.needsGrad) return;
        const prev = grads.get(input.name);
        grads.set(input.name, prev ? G.node('Add', [prev, gi], { shape: input.shape }) : gi);
      });
    }
  } finally {
    G.recording = wasRecording;
  }
  return wrt.map((v) => {
    const g = grads.get(v.name);
    if (!g) throw new Error(`no gradient reaches ${v.name}`);
    return g;
  });
}
