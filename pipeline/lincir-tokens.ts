/**
 * The token source of the `lincir` retrieval method: LinCIR's φ predicting each reference's token from
 * its raw image features (`--lincir PATH`: the .onnx or .safetensors that `starword lincir` exports, or
 * its output folder), or tokens parts written by `starword invert --lincir` (`--lincir-tokens PATH`).
 * LinCIR composes as SEARLE does ("a photo of $ that {caption}", LinCIR's validate.py), so only the
 * tokens differ. `retrieve` and `evaluate` share it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '../clip/runtime/onnx-session.ts';
import { LINCIR_ONNX } from '../stages/lincir/files.ts';
import { PhiPredictor } from '../stages/phi/invert.ts';
import { type TokenProvider, partsTokenProvider, phiTokenProvider } from '../stages/retrieve/sources.ts';
import { UserError } from '../util/errors.ts';

export interface LincirTokenFlags {
  lincir?: string;
  lincirTokens?: string;
  threads?: number;
  device?: Device;
  cacheDir?: string;
}

/** A `starword lincir` output folder stands for its lincir.onnx. */
export function lincirFile(path: string): string {
  return existsSync(path) && statSync(path).isDirectory() ? join(path, LINCIR_ONNX) : path;
}

/** The provider the flags name, or undefined when neither is given; `modelHash` as tokenProviderFrom's. */
export async function lincirTokenProvider(flags: LincirTokenFlags, modelHash?: () => string | undefined): Promise<TokenProvider | undefined> {
  if (flags.lincir && flags.lincirTokens) throw new UserError('give --lincir or --lincir-tokens, not both');
  if (flags.lincirTokens) return partsTokenProvider(flags.lincirTokens, { modelHash });
  if (!flags.lincir) return undefined;
  // φ is SEARLE's network: phi's predictor opens its exports
  return phiTokenProvider(await PhiPredictor.open(lincirFile(flags.lincir), { threads: flags.threads, device: flags.device, cacheDir: flags.cacheDir, flag: '--lincir' }));
}
