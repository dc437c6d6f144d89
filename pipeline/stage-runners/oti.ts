/** The OTI stage as the CLI and `starword run` drive it: options, model, phrase pool, progress. */
import type { Command } from 'commander';
import { z } from 'zod';
import { resolve } from 'node:path';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import type { ClipModel } from '../../clip/weights.ts';
import { DEFAULT_PREFIX_CACHE_BYTES } from '../../clip/prefix-cache.ts';
import { createTextEncoder } from '../../clip/text-encoder.ts';
import { fillTemplate, loadTemplates } from '../../clip/templates.ts';
import type { ClipTokenizer } from '../../clip/tokenizer.ts';
import { tokenizerForModel } from '../../clip/tokenizer-fit.ts';
import { partSetIdentity } from '../../schemas/part-io.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';
import { readInitTokens } from '../../stages/oti/init-from.ts';
import { SEARLE_OTI, type OtiOptions } from '../../stages/oti/options.ts';
import { OtiSession } from '../../stages/oti/oti-session.ts';
import { PhrasePool } from '../../stages/oti/phrase-pool.ts';
import { type OtiSummary, runOti } from '../../stages/oti/run-oti.ts';
import { sessionOptions } from '../model-loading.ts';
import { type CrossCheck, checkOptions, kebabFlag, rule } from '../option-checks.ts';
import { floatOption, intOption, positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';

export interface OtiCliOptions {
  otiSteps: number; otiBatch: number; lr: number; weightDecay: number; emaDecay: number;
  lambdaCos: number; lambdaGpt: number; initStd: number; otiTopK: number; seed: number;
  otiPadTo?: number;
  initFrom?: string; phrasesDir?: string; prefixCacheMb?: number; threads?: number; cacheDir?: string; logJson?: boolean;
}

/** Adds the OTI options (SEARLE's defaults) to a command. */
export function addOtiOptions(cmd: Command): Command {
  const d = SEARLE_OTI;
  return cmd
    .option('--oti-steps <n>', 'OTI steps per image', positiveIntOption, d.steps)
    .option('--oti-batch <n>', 'images per OTI batch', positiveIntOption, d.batchSize)
    .option('--lr <x>', 'AdamW learning rate', floatOption, d.adamw.lr)
    .option('--weight-decay <x>', 'AdamW weight decay', floatOption, d.adamw.weightDecay)
    .option('--ema-decay <x>', 'EMA decay of v*', floatOption, d.emaDecay)
    .option('--lambda-cos <x>', 'weight of L_cos', floatOption, d.lambdaCos)
    .option('--lambda-gpt <x>', 'weight of L_gpt', floatOption, d.lambdaGpt)
    .option('--init-std <x>', 'std of the random initial v*', floatOption, d.initStd)
    .option('--oti-top-k <n>', 'concepts per image whose phrases feed L_gpt', positiveIntOption, d.topK)
    .option('--seed <n>', 'seed of v* and of the template/phrase draws', intOption, d.seed)
    .option('--oti-pad-to <n>', 'pad every batch to n tokens (≥ the longest phrase; 77 always is) and to full size: '
      + 'tokens independent of batch mates, bit for bit, so shards equal an unsharded run (slower)', positiveIntOption)
    .option('--init-from <path>', 'warm start: a tokens Arrow file or folder (earlier OTI run, or phi invert)')
    .option('--prefix-cache-mb <n>', 'bound of the prefix cache (keys/values before `$`) in MiB', floatOption, DEFAULT_PREFIX_CACHE_BYTES / 2 ** 20);
}

/** OTI's option rules, shared by `starword oti` and `starword run`. */
export const otiOptionsSchema = z.object({
  otiSteps: rule.positiveInt(), otiBatch: rule.positiveInt(), lr: rule.positive(), weightDecay: rule.nonNegative(),
  emaDecay: rule.fraction(), lambdaCos: rule.nonNegative(), lambdaGpt: rule.nonNegative(), initStd: rule.nonNegative(),
  otiTopK: rule.positiveInt(), seed: rule.int(), prefixCacheMb: rule.nonNegative().optional(), otiPadTo: rule.positiveInt().optional(),
});

const otiCross: CrossCheck<OtiCliOptions>[] = [
  (o) => (o.lambdaCos + o.lambdaGpt > 0 ? null : { key: 'lambdaGpt', message: 'and --lambda-cos are both 0: nothing to optimise' }),
];

/** Checks every OTI option (ranges included); throws a one-line UserError naming the flag. */
export function checkOtiOptions(o: OtiCliOptions): void {
  checkOptions(otiOptionsSchema, o, kebabFlag(), otiCross);
}

export function otiOptionsFrom(o: OtiCliOptions): OtiOptions {
  checkOtiOptions(o);
  return {
    steps: o.otiSteps, batchSize: o.otiBatch,
    adamw: { ...SEARLE_OTI.adamw, lr: o.lr, weightDecay: o.weightDecay },
    emaDecay: o.emaDecay, lambdaCos: o.lambdaCos, lambdaGpt: o.lambdaGpt, initStd: o.initStd, topK: o.otiTopK, seed: o.seed,
    // only when set, so run folders made before the option keep their fingerprint
    ...(o.otiPadTo ? { padTo: o.otiPadTo } : {}),
    // batches above SEARLE's 32 (a GPU's) keep each image's gradient as a batch of 32 gives it; recorded only
    // then, as it changes the tokens only then
    ...(o.otiBatch > SEARLE_OTI.batchSize ? { gradientBatch: SEARLE_OTI.batchSize } : {}),
  };
}

/** SEARLE's OTI templates: the 24 PALAVRA templates formatted with " $ ", tokenized once. */
export function otiTemplateIds(tokenizer: ClipTokenizer, ctx: number): Int32Array[] {
  return loadTemplates().map((t) => tokenizer.tokenize(fillTemplate(t, '$'), ctx));
}

/** `shared` lets `run` pass the text encoder and tokenizer it already holds (one session, not two). */
export async function runOtiStage(runDir: string, model: ClipModel, o: OtiCliOptions, log: (line: string) => void,
  shared?: { text: TextEncoder; tokenizer: ClipTokenizer }): Promise<OtiSummary> {
  const options = otiOptionsFrom(o);
  if ((options.padTo ?? 0) > model.config.text.ctx) throw new UserError(`--oti-pad-to ${options.padTo} exceeds the model's context length ${model.config.text.ctx}`);
  const sess = sessionOptions(o);
  const tokenizer = shared?.tokenizer ?? await tokenizerForModel(model);
  const session = await OtiSession.create(model, { ...sess, prefixCacheBytes: o.prefixCacheMb === undefined ? undefined : Math.floor(o.prefixCacheMb * 2 ** 20) });
  // a text encoder only if some phrases lack their target features (made without a model)
  const own: { text: Promise<TextEncoder> | null } = { text: null };
  const text = () => (shared ? Promise.resolve(shared.text) : (own.text ??= createTextEncoder(model, { ...sess, tokenizer })));
  const phrasesDir = resolve(o.phrasesDir ?? stageDir(runDir, 'phrases'));
  const pool = await PhrasePool.load(phrasesDir, tokenizer, text, model.config.text.ctx, model.config.projectionDim, log);
  log(`oti: ${pool.phraseCount} phrases of ${pool.conceptCount} concepts; ${options.steps} steps, batch ${options.batchSize}`);
  const init = o.initFrom ? readInitTokens(resolve(o.initFrom), model.config.text.width) : undefined;
  if (init) log(`oti: warm start for ${init.size} images from ${o.initFrom}`);
  try {
    return await runOti({
      runDir, session, pool, templates: otiTemplateIds(tokenizer, model.config.text.ctx), options, init,
      progress: createProgress('oti', { logJson: o.logJson }), log,
      metadata: { 'starword.model_hash': model.hash, 'starword.steps': String(options.steps) },
      provenance: {
        modelHash: model.hash, configHash: hashJson({ options, initFrom: o.initFrom ? resolve(o.initFrom) : null }),
        inputs: { phrases: partSetIdentity(phrasesDir, phrasesSchema.KIND) },
      },
    });
  } finally {
    pool.close();
    await session.release();
    if (own.text) await (await own.text).release?.();
  }
}
