/**
 * `starword pic2word RUN_OR_CORPUS --model DIR [--out DIR]`: train Pic2Word's mapping network f_M (the
 * authors' defaults) on the raw image features of a run folder or merged corpus — no OTI, no phrases —
 * resumable from its checkpoints; export ONNX + safetensors in the authors' IM2TEXT layout.
 */
import type { Device } from '../../clip/onnx-session.ts';
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ClipTokenizer } from '../../clip/tokenizer.ts';
import { PIC2WORD_DEFAULTS, type Pic2WordOptions } from '../../stages/pic2word/options.ts';
import { runPic2Word } from '../../stages/pic2word/run-pic2word.ts';
import { UserError } from '../../util/errors.ts';
import { loadModel, sessionOptions } from '../model-loading.ts';
import { underLock } from '../run-manifest.ts';
import { floatOption, intOption, nonNegativeIntOption, positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

type Parser = (value: string) => number;
const FLAGS: [flag: string, key: keyof Pic2WordOptions, help: string, parse: Parser][] = [
  ['epochs', 'epochs', 'training epochs (authors: 30)', nonNegativeIntOption],
  ['batch', 'batchSize', 'images per batch; the last partial batch is dropped (authors: 128)', positiveIntOption],
  ['lr', 'lr', 'peak AdamW learning rate (authors: 1e-4)', floatOption],
  ['weight-decay', 'weightDecay', 'AdamW weight decay of the weights, none for biases (authors: 0.1)', floatOption],
  ['beta1', 'beta1', 'AdamW beta1 (authors: 0.9)', floatOption],
  ['beta2', 'beta2', 'AdamW beta2 (authors, ViT: 0.98)', floatOption],
  ['eps', 'eps', 'AdamW eps (authors, ViT: 1e-6)', floatOption],
  ['warmup', 'warmup', 'linear warmup steps of the cosine schedule (authors: 10000, sized for CC3M)', positiveIntOption],
  ['dropout', 'dropout', 'dropout in each block of f_M (authors: 0.1)', floatOption],
  ['middle-dim', 'middleDim', 'hidden width of f_M (authors: 512)', positiveIntOption],
  ['layers', 'layers', 'hidden blocks of f_M before fc_out (authors: 2)', nonNegativeIntOption],
  ['val-fraction', 'valFraction', 'share of images held out for the per-epoch metrics (stable hash of the id)', floatOption],
  ['checkpoint-every', 'checkpointEvery', 'epochs between checkpoints', positiveIntOption],
  ['seed', 'seed', 'seed of the initial weights, shuffles and dropout', intOption],
];

interface CliOptions extends Record<string, unknown> {
  model: string; out?: string; logitScale?: number; threads?: number; cacheDir?: string; device?: Device; logJson?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('pic2word')
    .description('train Pic2Word\'s mapping network f_M (authors\' defaults) on a run\'s image features; export ONNX + safetensors')
    .argument('<run-or-corpus>', 'a run folder (its embed/), an embed folder, a features .arrow file, or a merged corpus (DIR/corpus that `starword merge DIR` builds, or DIR)')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder (the one the features were embedded with)')
    .option('--out <dir>', 'output folder (default <run>/pic2word); holds checkpoints, so a rerun resumes');
  for (const [flag, key, help, parse] of FLAGS) cmd.option(`--${flag} ${parse === floatOption ? '<x>' : '<n>'}`, help, parse, PIC2WORD_DEFAULTS[key] as number);
  cmd.option('--max-steps <n>', 'stop after this many optimizer steps in all, a budget beside --epochs (the cosine schedule spans it; default: none)', nonNegativeIntOption);
  cmd.option('--logit-scale <x>', 'contrastive logit scale (default: exp of the checkpoint\'s logit_scale, as the authors read it)', floatOption)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', positiveIntOption)
    .option('--cache-dir <dir>', 'graph cache (default $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--log-json', 'progress as JSON lines on stderr', false)
    .action(async (source: string, o: CliOptions) => {
      const src = resolve(source);
      if (!existsSync(src)) throw new UserError(`${source}: no such file or folder`);
      if (!o.out && !statSync(src).isDirectory()) throw new UserError(`--out is required when the source is a file (${source})`);
      const out = o.out ? resolve(o.out) : join(src, 'pic2word');
      const options = { ...PIC2WORD_DEFAULTS, logitScale: o.logitScale ?? null, maxSteps: (o.maxSteps as number | undefined) ?? null } as Pic2WordOptions;
      for (const [flag, key] of FLAGS) (options as unknown as Record<string, number>)[key] = o[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] as number;
      const model = await loadModel(resolve(o.model));
      const tokenizer = await ClipTokenizer.forModelDir(model.dir);
      const { lock } = underLock(out, 'pic2word', () => undefined); // one writer of the output folder (its checkpoints)
      const s = await runPic2Word({
        source: src, outDir: out, src: model, tokenize: (t) => tokenizer.tokenize(t, model.config.text.ctx), options,
        session: sessionOptions(o), progress: createProgress('pic2word', { logJson: o.logJson }), log: (l) => process.stderr.write(`${l}\n`),
      }).finally(() => lock.release());
      const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));
      console.log(`pic2word: ${s.train} train / ${s.val} held-out images, ${s.stepsPerEpoch} steps per epoch, ${s.epochsRunNow} epochs run now`
        + `${s.resumedFrom !== null ? ` (resumed after epoch ${s.resumedFrom})` : ''}, epoch ${s.last?.epoch ?? 0}: `
        + `train loss ${f(s.last?.trainLoss)}, held-out loss ${f(s.last?.valLoss)}, cosine ${f(s.last?.valCosine)}; ${s.files.onnx}, ${s.files.safetensors}`);
    });
}
