/**
 * The token source of the `pic2word` retrieval method: f_M predicting each reference's token from its
 * raw image features (`--pic2word FILE`, the .onnx or .safetensors that `starword pic2word` exports),
 * or tokens parts written by `starword invert --pic2word FILE` (`--pic2word-tokens PATH`). `retrieve`
 * and `evaluate` share it.
 */
import type { Device } from '../clip/runtime/onnx-session.ts';
import { Pic2WordPredictor } from '../stages/pic2word/predictor.ts';
import { type TokenProvider, partsTokenProvider, phiTokenProvider } from '../stages/retrieve/sources.ts';
import { UserError } from '../util/errors.ts';

export interface Pic2WordTokenFlags {
  pic2word?: string;
  pic2wordTokens?: string;
  threads?: number;
  device?: Device;
  cacheDir?: string;
}

/** The provider the flags name, or undefined when neither is given; `modelHash` as tokenProviderFrom's. */
export async function pic2wordTokenProvider(flags: Pic2WordTokenFlags, modelHash?: () => string | undefined): Promise<TokenProvider | undefined> {
  if (flags.pic2word && flags.pic2wordTokens) throw new UserError('give --pic2word or --pic2word-tokens, not both');
  if (flags.pic2wordTokens) return partsTokenProvider(flags.pic2wordTokens, { modelHash });
  if (!flags.pic2word) return undefined;
  const predictor = await Pic2WordPredictor.open(flags.pic2word, { threads: flags.threads, device: flags.device, cacheDir: flags.cacheDir });
  // f_M is a feed-forward map like phi: the same features-in, tokens-out provider serves it
  return phiTokenProvider(predictor);
}
