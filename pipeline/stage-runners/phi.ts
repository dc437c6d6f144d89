/** The phi stage as the CLI (and `starword run`) drives it: options, model, text encoder, progress. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { createTextEncoder } from '../../clip/text-encoder.ts';
import { ClipTokenizer } from '../../clip/tokenizer.ts';
import type { ClipModel } from '../../clip/weights.ts';
import { SEARLE_PHI, type PhiOptions } from '../../stages/phi/options.ts';
import { type PhiSummary, runPhi } from '../../stages/phi/run-phi.ts';
import { sessionOptions } from '../model-loading.ts';
import { floatOption, intOption, positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

export interface PhiCliOptions {
  epochs: number; batch: number; lr: number; weightDecay: number; dropout: number;
  lambdaDistil: number; lambdaGpt: number; temperature: number; topK: number; valFraction: number;
  checkpointEvery: number; seed: number;
  out?: string; phrasesDir?: string; threads?: number; cacheDir?: string; logJson?: boolean;
}

/** Adds the phi training options (SEARLE's defaults) to a command. */
export function addPhiOptions(cmd: Command): Command {
  const d = SEARLE_PHI;
  return cmd
    .option('--epochs <n>', 'training epochs', intOption, d.epochs)
    .option('--batch <n>', 'images per batch', positiveIntOption, d.batchSize)
    .option('--lr <x>', 'AdamW learning rate', floatOption, d.lr)
    .option('--weight-decay <x>', 'AdamW weight decay', floatOption, d.weightDecay)
    .option('--dropout <x>', 'dropout after each hidden GELU', floatOption, d.dropout)
    .option('--lambda-distil <x>', 'weight of L_distil (NT-Xent against the OTI tokens)', floatOption, d.lambdaDistil)
    .option('--lambda-gpt <x>', 'weight of L_gpt', floatOption, d.lambdaGpt)
    .option('--temperature <x>', 'NT-Xent temperature', floatOption, d.temperature)
    .option('--top-k <n>', 'concepts per image whose phrases feed L_gpt', positiveIntOption, d.topK)
    .option('--val-fraction <x>', 'share of images held out (stable hash of the id)', floatOption, d.valFraction)
    .option('--checkpoint-every <n>', 'epochs between checkpoints', positiveIntOption, d.checkpointEvery)
    .option('--seed <n>', 'seed of the initial weights, shuffles, dropout and phrase draws', intOption, d.seed);
}

export function phiOptionsFrom(o: PhiCliOptions): PhiOptions {
  return {
    epochs: o.epochs, batchSize: o.batch, lr: o.lr, weightDecay: o.weightDecay, dropout: o.dropout,
    lambdaDistil: o.lambdaDistil, lambdaGpt: o.lambdaGpt, temperature: o.temperature, topK: o.topK,
    valFraction: o.valFraction, checkpointEvery: o.checkpointEvery, seed: o.seed,
  };
}

export async function runPhiStage(runDir: string, model: ClipModel, o: PhiCliOptions, log: (line: string) => void): Promise<PhiSummary> {
  const sess = sessionOptions(o);
  const tokenizer = await ClipTokenizer.forModelDir(model.dir);
  const text = await createTextEncoder(model, { ...sess, tokenizer });
  const ctx = model.config.text.ctx;
  return runPhi({
    runDir, outDir: o.out ? resolve(o.out) : undefined, src: model, text, tokenize: (t) => tokenizer.tokenize(t, ctx),
    options: phiOptionsFrom(o), phrasesDir: o.phrasesDir ? resolve(o.phrasesDir) : undefined,
    session: sess, progress: createProgress('phi', { logJson: o.logJson }), log,
  });
}
