/** Loads a model folder and builds encoders for commands, with the session options they share. */
import type { Device } from '../clip/onnx-session.ts';
import { cpus } from 'node:os';
import { type ClipModel, loadClipModel } from '../clip/weights.ts';

export interface ModelOptions { model: string; threads?: number; cacheDir?: string; device?: Device }

export function sessionOptions(o: { threads?: number; cacheDir?: string; device?: Device }) {
  return { threads: o.threads ?? cpus().length, cacheDir: o.cacheDir, device: o.device };
}

export async function loadModel(dir: string): Promise<ClipModel> {
  return loadClipModel(dir);
}
