/**
 * Whether a model's text tower can take what its tokenizer writes. A model whose config.json declares a
 * vocabulary smaller than the tokenizer's ids (a 1,000-id test model beside CLIP's SOT 49406 / EOT
 * 49407) would otherwise fail deep inside ONNX Runtime's Gather, far from the cause; it is refused when
 * the tokenizer is loaded for it, naming the config keys. Commands that are given ids never ask.
 */
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import type { TextConfig } from '../weights/config.ts';
import { ClipTokenizer } from './tokenizer.ts';

/** Throws a UserError when `tokenizer`'s ids do not all index `text`'s embedding table. */
export function checkTokenizerFits(tokenizer: ClipTokenizer, text: TextConfig, configFile: string): void {
  if (tokenizer.vocabSize <= text.vocab) return;
  throw new UserError(`${configFile}: text_config.vocab_size ${text.vocab} is too small for the CLIP tokenizer `
    + `(ids up to ${tokenizer.vocabSize - 1}: SOT ${tokenizer.sot}, EOT ${tokenizer.eot}; the config declares `
    + `bos_token_id ${text.bos}, eos_token_id ${text.eos}); give the model folder the vocab.json + merges.txt it was trained with`);
}

/** The model folder's tokenizer (see ClipTokenizer.forModelDir), checked against its config. */
export async function tokenizerForModel(model: { dir: string; config: { text: TextConfig } }): Promise<ClipTokenizer> {
  const tokenizer = await ClipTokenizer.forModelDir(model.dir);
  checkTokenizerFits(tokenizer, model.config.text, join(model.dir, 'config.json'));
  return tokenizer;
}
