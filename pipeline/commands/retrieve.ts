/**
 * `starword retrieve --model DIR --index DIR --reference IMAGE|ID --caption TEXT [--tokens PATH | --phi FILE]
 * [--method searle|image|text|sum|pic2word] [--pic2word FILE] [--top-k 50]`: one composed query against a gallery index; prints
 * JSON lines {id, score, rank}, best first. The reference is an image file (encoded here) or an id of
 * the index; when it is in the index it is left out of its own ranking.
 * Also holds the model/token loading that `evaluate` shares.
 */
import type { Command } from 'commander';
import { COMPOSE_METHODS } from '../../stages/retrieve/compose.ts';
import { positiveIntOption } from '../options.ts';
import { type Options, runRetrieve } from '../retrieve-query.ts';
import { addQueryModelOptions } from '../shared-options.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function register(program: Command): void {
  const cmd = program.command('retrieve')
    .description('rank a gallery index for one reference image + relative caption; JSON lines {id, score, rank}')
    .requiredOption('--index <dir>', 'gallery features: a run folder, its embed/ folder, or an .arrow file')
    .requiredOption('--reference <image|id>', 'the reference image file, or its id in the index')
    .requiredOption('--caption <text>', 'relative caption (repeat for FashionIQ-style two captions)', collect)
    .option('--tokens <path>', 'OTI tokens: a run folder, its oti/ folder, or a tokens .arrow file')
    .option('--phi <file>', 'phi exported as ONNX: predicts the reference token from its image features')
    .option('--pic2word <file>', 'Pic2Word\'s f_M (.onnx or .safetensors from `starword pic2word`), for --method pic2word')
    .option('--lincir <path>', 'LinCIR\'s φ (.onnx, .safetensors or the folder `starword lincir` writes), for --method lincir')
    .option('--method <name>', `${[...COMPOSE_METHODS, 'lincir'].join(' | ')} (default: searle; pic2word with --pic2word, lincir with --lincir)`)
    .option('--top-k <n>', 'results to print', positiveIntOption, 50)
    .option('--preprocess <mode>', 'for a reference image file: targetpad (SEARLE) | plain', 'targetpad');
  addQueryModelOptions(cmd).action(async (opts: Options) => runRetrieve(opts));
}
