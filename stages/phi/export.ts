/**
 * phi's exports: an ONNX inference file (image_features [B, d] → token [B, D], weights as initializers,
 * stored as `<file>.data` beside it) and a safetensors state dict in SEARLE's layout (layers.0.weight …,
 * PyTorch [out, in]) that `Phi.load_state_dict` reads after safetensors.torch.load_file.
 */
import { writeOnnxModel } from '../../clip/graph/onnx-model.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../clip/safetensors.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { buildPhiInferenceGraph } from './phi-graph.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights, dimsFromShapes, paramShape } from './phi-net.ts';

export function exportPhiOnnx(path: string, dims: PhiDims, weights: PhiWeights): void {
  writeOnnxModel(buildPhiInferenceGraph(dims, weights), path, 'starword-phi');
}

export async function exportPhiSafetensors(path: string, dims: PhiDims, weights: PhiWeights, metadata: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(path, PHI_PARAMS.map((n) => ({ name: n, shape: paramShape(dims, n), data: weights[n] })),
    { format: 'pt', ...metadata });
}

/** A SEARLE-layout phi state dict from safetensors. */
export async function loadPhiSafetensors(path: string): Promise<{ dims: PhiDims; weights: PhiWeights; metadata: Record<string, string> }> {
  let dims: PhiDims;
  const store = await readSafetensors(path, { want: (n) => (PHI_PARAMS as readonly string[]).includes(n) });
  try {
    dims = dimsFromShapes((n) => (store.has(n) ? store.shape(n) : undefined));
  } catch (err) {
    throw new UserError(`${path}: ${errorMessage(err)}`);
  }
  const weights = {} as PhiWeights;
  for (const n of PHI_PARAMS) weights[n] = store.get(n).slice();
  return { dims, weights, metadata: (await readSafetensorsHeader(path)).metadata ?? {} };
}
