/**
 * `starword lincir RUN_OR_CORPUS --model DIR [--out DIR]`: train LinCIR's φ (its defaults) on the phrase
 * store of a run folder, a merged corpus or a phrases folder — text only: the masked phrase (`$` for
 * its concept) against the phrase's own text feature — resumable from its checkpoints; export ONNX,
 * safetensors (SEARLE's Phi layout) and LinCIR's own checkpoint (lincir.pt: {'epoch', 'Phi'}).
 * The flags come from the stage's one zod object (stages/lincir/options.ts): key → --kebab-case.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import type { Device } from '../../clip/onnx-session.ts';
import { ClipTokenizer } from '../../clip/tokenizer.ts';
import { LINCIR_DEFAULTS, type LincirOptions, lincirOptionsSchema } from '../../stages/lincir/options.ts';
import { runLincir } from '../../stages/lincir/run-lincir.ts';
import { UserError } from '../../util/errors.ts';
import { loadModel, sessionOptions } from '../model-loading.ts';
import { positiveIntOption } from '../options.ts';
import { createProgress } from '../progress.ts';
import { underLock } from '../run-manifest.ts';

interface CliOptions extends Record<string, unknown> {
  model: string; out?: string; threads?: number; cacheDir?: string; device?: Device; logJson?: boolean;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
type Meta = { help?: string; flag?: string };
const optionFields = Object.entries(lincirOptionsSchema.shape).map(([key, field]) => {
  const meta = ((field as z.ZodType).meta() ?? {}) as Meta;
  return { key: key as keyof LincirOptions, flag: meta.flag ?? kebab(key), help: meta.help ?? key };
});

/** The options from the parsed flags, checked by the schema; a bad value is one line naming its flag. */
export function lincirOptionsFrom(o: Record<string, unknown>): LincirOptions {
  const raw: Record<string, unknown> = {};
  for (const f of optionFields) {
    const v = o[camel(f.flag)];
    if (v === undefined) continue;
    const def = LINCIR_DEFAULTS[f.key];
    raw[f.key] = typeof def === 'number' ? Number(v) : v;
  }
  const parsed = lincirOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const f = optionFields.find((x) => x.key === issue.path[0]);
    throw new UserError(`--${f?.flag ?? String(issue.path[0])}: ${issue.message} (got ${String(raw[issue.path[0] as string])})`);
  }
  return parsed.data;
}

export function register(program: Command): void {
  const cmd = program.command('lincir')
    .description('train LinCIR\'s φ (its defaults) on the phrases of a run or corpus, text only; export ONNX + safetensors + LinCIR\'s .pt')
    .argument('<run-or-corpus>', 'a run folder (its phrases/), a merged corpus (DIR/corpus or DIR), or a phrases folder')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder (the one the phrase targets were computed with)')
    .option('--out <dir>', 'output folder (default <run>/lincir); holds checkpoints, so a rerun resumes');
  for (const f of optionFields) cmd.option(`--${f.flag} <${typeof LINCIR_DEFAULTS[f.key] === 'number' ? 'x' : 'kind'}>`, f.help, String(LINCIR_DEFAULTS[f.key]));
  cmd.option('--threads <n>', 'ONNX Runtime threads (default: all cores)', positiveIntOption)
    .option('--cache-dir <dir>', 'graph cache (default $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--log-json', 'progress as JSON lines on stderr', false)
    .action(async (source: string, o: CliOptions) => {
      const options = lincirOptionsFrom(o); // every option checked before the model is loaded
      const src = resolve(source);
      if (!existsSync(src)) throw new UserError(`${source}: no such file or folder`);
      const out = o.out ? resolve(o.out) : join(src, 'lincir');
      const model = await loadModel(resolve(o.model));
      const tokenizer = await ClipTokenizer.forModelDir(model.dir);
      const { lock } = underLock(out, 'lincir', () => undefined); // one writer of the output folder (its checkpoints)
      const s = await runLincir({
        source: src, outDir: out, src: model, tokenize: (t) => tokenizer.tokenize(t, model.config.text.ctx), options,
        session: sessionOptions(o), progress: createProgress('lincir', { logJson: o.logJson }), log: (l) => process.stderr.write(`${l}\n`),
      }).finally(() => lock.release());
      const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toExponential(4));
      console.log(`lincir: ${s.train} train / ${s.heldOut} held-out phrases, ${s.steps} steps${s.resumedFrom !== null ? ` (resumed)` : ''}: `
        + `train loss ${f(s.last?.trainLoss)}, held-out loss ${f(s.last?.valLoss)}; ${s.files.onnx}, ${s.files.safetensors}, ${s.files.checkpoint}`);
    });
}
