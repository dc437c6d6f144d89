/** Loads a model folder for commands (session options: pipeline/shared-options.ts, sessionOptionsFrom). */
import { type ClipModel, loadClipModel } from '../clip/weights.ts';

export async function loadModel(dir: string): Promise<ClipModel> {
  return loadClipModel(dir);
}
