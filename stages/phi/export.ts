/**
 * phi's exports: an ONNX inference file (image_features [B, d] → token [B, D], weights as initializers,
 * stored as `<file>.data` beside it) and a safetensors state dict in SEARLE's layout (layers.0.weight …,
 * PyTorch [out, in]) that `Phi.load_state_dict` reads after safetensors.torch.load_file.
 */
import { exportOnnx, exportStateDict, loadStateDict } from '../../clip/training/state-dict-io.ts';
import { PHI_LAYOUT } from './checkpoint.ts';
import { buildPhiInferenceGraph } from './phi-graph.ts';
import { PHI_PARAMS, type PhiDims, type PhiWeights } from './phi-net.ts';

export function exportPhiOnnx(path: string, dims: PhiDims, weights: PhiWeights): void {
  exportOnnx(path, buildPhiInferenceGraph(dims, weights), 'starword-phi');
}

export function exportPhiSafetensors(path: string, dims: PhiDims, weights: PhiWeights, metadata: Record<string, string> = {}): Promise<void> {
  return exportStateDict(path, PHI_LAYOUT, dims, weights, metadata);
}

/** A SEARLE-layout phi state dict from safetensors. */
export function loadPhiSafetensors(path: string): Promise<{ dims: PhiDims; weights: PhiWeights; metadata: Record<string, string> }> {
  return loadStateDict<PhiDims, PhiWeights>(path, PHI_LAYOUT, (n) => (PHI_PARAMS as readonly string[]).includes(n));
}
