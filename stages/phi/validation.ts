/**
 * phi's per-epoch CIRR val validation (SEARLE's train_phi.py, validation_frequency 1): the weights after
 * an epoch are exported to a scratch ONNX file, the references' tokens are phi's predictions from their
 * indexed features, and the evaluate stage's core ranks the val gallery with the reference excluded
 * (CIRR's rule). Lives in the pipeline because it joins two stages (phi and evaluate).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import type { SessionOptions } from '../../clip/runtime/onnx-session.ts';
import { loadCirr } from '../evaluate/cirr.ts';
import { evaluate } from '../evaluate/run-evaluate.ts';
import { exportPhiOnnx } from './export.ts';
import { PhiPredictor } from './invert.ts';
import type { PhiDims, PhiWeights } from './phi-net.ts';
import { PartsGallery } from '../retrieve/gallery.ts';
import { locateParts, phiTokenProvider } from '../retrieve/sources.ts';

export type PhiValidator = (dims: PhiDims, weights: PhiWeights, epoch: number) => Promise<Record<string, number>>;

export function cirrValidator(annotations: string, index: string, text: TextEncoder, session: SessionOptions, outDir: string,
  log?: (line: string) => void, modelHash?: string): PhiValidator {
  // read once, up front: a bad path fails before the first epoch
  const ann = loadCirr(annotations, 'val');
  // features of another model would score phi against the wrong space: refused when read (`modelHash`)
  const gallery = new PartsGallery(locateParts(index, 'features', 'embed', '--val-cirr-index'), { modelHash });
  log?.(`phi: validating every epoch on CIRR val (${ann.queries.length} queries, ${ann.sources.join(', ')})`);
  return async (dims, weights) => {
    const scratch = join(outDir, '.val-phi.onnx');
    exportPhiOnnx(scratch, dims, weights);
    const phi = await PhiPredictor.open(scratch, session);
    try {
      const report = await evaluate(ann, gallery, { method: 'searle', text, tokens: phiTokenProvider(phi), excludeReference: true });
      return report.metrics;
    } finally {
      await phi.release();
      rmSync(scratch, { force: true });
      rmSync(`${scratch}.data`, { force: true });
    }
  };
}
