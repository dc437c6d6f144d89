/**
 * Pic2Word's exports: an ONNX inference file (image_features [B, d] → token [B, D], weights as
 * initializers, stored as `<file>.data` beside it) and a safetensors state dict in the authors' IM2TEXT
 * layout (layers.0.0.weight …, fc_out.weight, PyTorch [out, in]): `img2text.load_state_dict(
 * safetensors.torch.load_file(path))` loads it into their model/model.py's IM2TEXT.
 */
import { exportOnnx, exportStateDict, loadStateDict } from '../../clip/training/state-dict-io.ts';
import { pic2wordLayout } from './checkpoint.ts';
import type { Im2TextDims, Im2TextWeights } from './im2text.ts';
import { buildPic2WordInferenceGraph } from './pic2word-graph.ts';

export function exportPic2WordOnnx(path: string, dims: Im2TextDims, weights: Im2TextWeights): void {
  exportOnnx(path, buildPic2WordInferenceGraph(dims, weights), 'starword-pic2word');
}

export function exportPic2WordSafetensors(path: string, dims: Im2TextDims, weights: Im2TextWeights, metadata: Record<string, string> = {}): Promise<void> {
  return exportStateDict(path, pic2wordLayout, dims, weights, metadata);
}

/** An IM2TEXT state dict from safetensors (ours, or the authors' converted to safetensors). */
export function loadPic2WordSafetensors(path: string): Promise<{ dims: Im2TextDims; weights: Im2TextWeights; metadata: Record<string, string> }> {
  const isParam = (n: string) => /^layers\.\d+\.0\.(weight|bias)$/.test(n) || n === 'fc_out.weight' || n === 'fc_out.bias';
  return loadStateDict<Im2TextDims, Im2TextWeights>(path, pic2wordLayout, isParam);
}
