/**
 * OTI, one declaration: its options (SEARLE's defaults, src/oti_inversion.py's argparse), what it reads
 * and writes, and its run: the phrase pool, the OTI session and the loop over batches (run-oti.ts).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { DEFAULT_PREFIX_CACHE_BYTES } from '../../clip/towers/prefix-cache.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { fillTemplate, loadTemplates } from '../../clip/text/templates.ts';
import type { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { tokenizerForModel } from '../../clip/text/tokenizer-fit.ts';
import { partSetIdentity } from '../../schemas/part-io.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { UserError } from '../../util/errors.ts';
import { hashJson } from '../../util/hash.ts';
import { rule } from '../../util/option-rules.ts';
import { type NoPhrasesInputs, checkPhrasesForLgpt } from '../phrases-for-lgpt.ts';
import type { StageDefinition } from '../stage.ts';
import { readInitTokens } from './init-from.ts';
import type { OtiOptions } from './options.ts';
import { OtiSession } from './oti-session.ts';
import { PhrasePool } from './phrase-pool.ts';
import { type OtiSummary, runOti } from './run-oti.ts';

export const otiOptions = z.object({
  otiSteps: rule.positiveInt().default(350).meta({ help: 'OTI steps per image' }),
  otiBatch: rule.positiveInt().default(32).meta({ help: 'images per OTI batch' }),
  lr: rule.positive().default(2e-2).meta({ help: 'AdamW learning rate' }),
  weightDecay: rule.nonNegative().default(0.01).meta({ help: 'AdamW weight decay' }),
  emaDecay: rule.fraction().default(0.99).meta({ help: 'EMA decay of v*' }),
  lambdaCos: rule.nonNegative().default(1).meta({ help: 'weight of L_cos' }),
  lambdaGpt: rule.nonNegative().default(0.5).meta({ help: 'weight of L_gpt' }),
  initStd: rule.nonNegative().default(0.02).meta({ help: 'std of the random initial v*' }),
  otiTopK: rule.positiveInt().default(15).meta({ help: 'concepts per image whose phrases feed L_gpt' }),
  seed: rule.int().default(0).meta({ help: 'seed of v* and of the template/phrase draws (one generator per image)', searle: 42 }),
  otiPadTo: rule.positiveInt().optional().meta({
    help: 'pad every batch to n tokens (≥ the longest phrase; 77 always is) and to full size: '
      + 'tokens independent of batch mates, bit for bit, so shards equal an unsharded run (slower)',
  }),
  initFrom: z.string().optional().meta({ help: 'warm start: a tokens Arrow file or folder (earlier OTI run, or phi invert)', value: '<path>' }),
  prefixCacheMb: rule.nonNegative().default(DEFAULT_PREFIX_CACHE_BYTES / 2 ** 20).meta({ help: 'bound of the prefix cache (keys/values before `$`) in MiB' }),
});

export type OtiStageOptions = z.output<typeof otiOptions>;

/** AdamW's betas and eps, which SEARLE does not expose as options */
const ADAMW_FIXED = { betas: [0.9, 0.999] as [number, number], eps: 1e-8 };

/** The optimisation's options as run-oti.ts and run.json know them (what decides the tokens). */
export function otiRunOptions(o: OtiStageOptions): OtiOptions {
  return {
    steps: o.otiSteps, batchSize: o.otiBatch,
    adamw: { ...ADAMW_FIXED, lr: o.lr, weightDecay: o.weightDecay },
    emaDecay: o.emaDecay, lambdaCos: o.lambdaCos, lambdaGpt: o.lambdaGpt, initStd: o.initStd, topK: o.otiTopK, seed: o.seed,
    // only when set, so run folders made before the option keep their fingerprint
    ...(o.otiPadTo ? { padTo: o.otiPadTo } : {}),
    // batches above SEARLE's 32 (a GPU's) keep each image's gradient as a batch of 32 gives it (options.ts's
    // gradientBatch); recorded only then, as it changes the tokens only then
    ...(o.otiBatch > SEARLE_BATCH ? { gradientBatch: SEARLE_BATCH } : {}),
  };
}

/** SEARLE's OTI batch (src/oti_inversion.py), the batch whose gradient scale larger batches keep. */
const SEARLE_BATCH = 32;

/** SEARLE's OTI options (src/oti_inversion.py's argparse defaults), read from the declaration above. */
export const SEARLE_OTI: OtiOptions = otiRunOptions(otiOptions.parse({}));

/** SEARLE's OTI templates: the 24 PALAVRA templates formatted with " $ ", tokenized once. */
export function otiTemplateIds(tokenizer: ClipTokenizer, ctx: number): Int32Array[] {
  return loadTemplates().map((t) => tokenizer.tokenize(fillTemplate(t, '$'), ctx));
}

export interface OtiInputs extends NoPhrasesInputs {
  phrasesDir?: string;
}

export const otiStage: StageDefinition<typeof otiOptions, OtiSummary, OtiInputs> = {
  name: 'oti',
  summary: 'optimisation-based textual inversion of every embedded image (SEARLE defaults), as tokens parts',
  input: ['features', 'concepts', 'phrases'],
  output: ['tokens'],
  options: otiOptions,
  cross: [(o) => (o.lambdaCos + o.lambdaGpt > 0 ? null : { key: 'lambdaGpt', message: 'and {flag:lambdaCos} are both 0: nothing to optimise' })],
  config: otiRunOptions,
  async run(ctx, o) {
    const { model, session: sess, log } = ctx;
    const options = otiRunOptions(o);
    if ((options.padTo ?? 0) > model.config.text.ctx) throw new UserError(`--oti-pad-to ${options.padTo} exceeds the model's context length ${model.config.text.ctx}`);
    const tokenizer = ctx.shared?.tokenizer ?? await tokenizerForModel(model);
    const session = await OtiSession.create(model, { ...sess, prefixCacheBytes: Math.floor(o.prefixCacheMb * 2 ** 20) });
    // a text encoder only if some phrases lack their target features (made without a model)
    const own: { text: Promise<TextEncoder> | null } = { text: null };
    const text = () => (ctx.shared ? Promise.resolve(ctx.shared.text) : (own.text ??= createTextEncoder(model, { ...sess, tokenizer })));
    const phrasesDir = resolve(ctx.inputs.phrasesDir ?? stageDir(ctx.runDir, 'phrases'));
    try {
      const pool = await PhrasePool.load(phrasesDir, tokenizer, text, model.config.text.ctx, model.config.projectionDim, log, model.hash);
      try {
        checkPhrasesForLgpt({ stage: 'oti', lambdaGpt: options.lambdaGpt, phrasesDir, phrases: pool.phraseCount, without: 'optimise L_cos alone' }, ctx.inputs, log);
        log(`oti: ${pool.phraseCount} phrases of ${pool.conceptCount} concepts; ${options.steps} steps, batch ${options.batchSize}`);
        const init = o.initFrom ? readInitTokens(resolve(o.initFrom), model.config.text.width, model.hash) : undefined;
        if (init) log(`oti: warm start for ${init.size} images from ${o.initFrom}`);
        return await runOti({
          runDir: ctx.runDir, session, pool, templates: otiTemplateIds(tokenizer, model.config.text.ctx), options, init,
          progress: ctx.progress('oti'), log,
          metadata: { 'starword.model_hash': model.hash, 'starword.steps': String(options.steps) },
          provenance: {
            modelHash: model.hash, configHash: hashJson({ options, initFrom: o.initFrom ? resolve(o.initFrom) : null }),
            inputs: { phrases: partSetIdentity(phrasesDir, phrasesSchema.KIND) },
          },
        });
      } finally {
        pool.close();
      }
    } finally {
      await session.release();
      if (own.text) await (await own.text).release?.();
    }
  },
  counts: (r) => ({ images: r.images, ok: r.ok, failed: r.failed, parts: r.parts, partsSkipped: r.partsSkipped }),
  resumedCounts: ['ok', 'failed'],
};
