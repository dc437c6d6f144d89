/** Pic2Word's training checkpoints: f_M in clip/training/training-checkpoint.ts's resumable layout. */
import { type CheckpointLayout, type TrainingCheckpoint, readLatestTrainingCheckpoint, writeTrainingCheckpoint } from '../../clip/training/training-checkpoint.ts';
import type { Pic2WordMetricsRow } from '../../schemas/pic2word-metrics.ts';
import { type Im2TextDims, type Im2TextWeights, dimsFromShapes, paramNames, paramShape } from './im2text.ts';

export { checkpointDir } from '../../clip/training/training-checkpoint.ts';

export const CHECKPOINT_FORMAT = 'starword-pic2word-checkpoint';

export type Pic2WordCheckpoint = TrainingCheckpoint<Im2TextDims, Im2TextWeights, Pic2WordMetricsRow>;

/** f_M for the shared trainer and checkpoints (the authors' IM2TEXT names). */
export const pic2wordLayout: CheckpointLayout<Im2TextDims, string> = {
  format: CHECKPOINT_FORMAT, label: 'Pic2Word', names: paramNames, shape: paramShape, dimsFromShapes,
};

export function writeCheckpoint(outDir: string, c: Pic2WordCheckpoint): Promise<string> {
  return writeTrainingCheckpoint(outDir, pic2wordLayout, c);
}

/** The newest checkpoint under `outDir`, or null. */
export function readLatestCheckpoint(outDir: string): Promise<Pic2WordCheckpoint | null> {
  return readLatestTrainingCheckpoint<Im2TextDims, string, Im2TextWeights, Pic2WordMetricsRow>(outDir, pic2wordLayout);
}
