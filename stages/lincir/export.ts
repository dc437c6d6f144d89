/**
 * LinCIR's exports. φ is SEARLE's Phi, so its files are phi's: an ONNX inference file (features [B, d]
 * → token [B, D]) that `invert`, `retrieve`, `evaluate` and `serve` open as they open phi's, a
 * safetensors state dict in the Phi layout, and LinCIR's own checkpoint, train_phi.py's save_phi
 * layout `{'epoch': global step, 'Phi': state_dict}` written with torch.save's format.
 */
import { buildSearlePhiInferenceGraph, PHI_PARAMS, type PhiDims, type PhiWeights, paramShape } from '../../clip/training/searle-phi-net.ts';
import { exportOnnx, exportStateDict } from '../../clip/training/state-dict-io.ts';
import { TorchTensor, torchSave } from '../../util/torch-save.ts';
import { LINCIR_LAYOUT } from './train.ts';

export function exportLincirOnnx(path: string, dims: PhiDims, weights: PhiWeights): void {
  exportOnnx(path, buildSearlePhiInferenceGraph(dims, weights), 'starword-lincir');
}

export function exportLincirSafetensors(path: string, dims: PhiDims, weights: PhiWeights, metadata: Record<string, string> = {}): Promise<void> {
  return exportStateDict(path, LINCIR_LAYOUT, dims, weights, metadata);
}

/** train_phi.py's save_phi: `epoch` holds the global step, as LinCIR records it. */
export function exportLincirCheckpoint(path: string, step: number, dims: PhiDims, weights: PhiWeights): void {
  torchSave(path, { dict: [['epoch', step], ['Phi', { dict: PHI_PARAMS.map((n) => [n, new TorchTensor(weights[n], paramShape(dims, n))]), ordered: true }]] });
}
