/**
 * Pic2Word's exports: an ONNX inference file (image_features [B, d] → token [B, D], weights as
 * initializers, stored as `<file>.data` beside it) and a safetensors state dict in the authors' IM2TEXT
 * layout (layers.0.0.weight …, fc_out.weight, PyTorch [out, in]): `img2text.load_state_dict(
 * safetensors.torch.load_file(path))` loads it into their model/model.py's IM2TEXT.
 */
import { writeOnnxModel } from '../../clip/graph/onnx-model.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../clip/safetensors.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { type Im2TextDims, type Im2TextWeights, dimsFromShapes, paramNames, paramShape } from './im2text.ts';
import { buildPic2WordInferenceGraph } from './pic2word-graph.ts';

export function exportPic2WordOnnx(path: string, dims: Im2TextDims, weights: Im2TextWeights): void {
  writeOnnxModel(buildPic2WordInferenceGraph(dims, weights), path, 'starword-pic2word');
}

export async function exportPic2WordSafetensors(path: string, dims: Im2TextDims, weights: Im2TextWeights, metadata: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(path, paramNames(dims).map((n) => ({ name: n, shape: paramShape(dims, n), data: weights[n] })),
    { format: 'pt', ...metadata });
}

/** An IM2TEXT state dict from safetensors (ours, or the authors' converted to safetensors). */
export async function loadPic2WordSafetensors(path: string): Promise<{ dims: Im2TextDims; weights: Im2TextWeights; metadata: Record<string, string> }> {
  const isParam = (n: string) => /^layers\.\d+\.0\.(weight|bias)$/.test(n) || n === 'fc_out.weight' || n === 'fc_out.bias';
  let store;
  try { store = await readSafetensors(path, { want: isParam }); } catch (err) { throw new UserError(`${path}: ${errorMessage(err)}`); }
  let dims: Im2TextDims;
  try {
    dims = dimsFromShapes((n) => (store.has(n) ? store.shape(n) : undefined));
  } catch (err) {
    throw new UserError(`${path}: ${errorMessage(err)}`);
  }
  const weights: Im2TextWeights = {};
  for (const n of paramNames(dims)) weights[n] = store.get(n).slice();
  return { dims, weights, metadata: (await readSafetensorsHeader(path)).metadata ?? {} };
}
