/**
 * `starword lincir RUN_OR_CORPUS --model DIR [--out DIR]`: train LinCIR's φ on the phrase store of a run
 * folder, a merged corpus or a phrases folder (stages/lincir/stage.ts declares it) — text only: the masked
 * phrase (`$` for its concept) against the phrase's own text feature — resumable from its checkpoints;
 * export ONNX, safetensors (SEARLE's Phi layout) and LinCIR's own checkpoint (lincir.pt: {'epoch', 'Phi'}).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { lincirStage } from '../../stages/lincir/stage.ts';
import { UserError } from '../../util/errors.ts';
import { underLock } from '../run-manifest.ts';
import { addSharedOptions, sharedOptionsFrom } from '../shared-options.ts';
import { addStageOptions, runStage, stageContext, stageOptionsFrom } from '../stage-command.ts';

export function register(program: Command): void {
  const cmd = program.command('lincir')
    .description(lincirStage.summary)
    .argument('<run-or-corpus>', 'a run folder (its phrases/), a merged corpus (DIR/corpus or DIR), or a phrases folder')
    .option('--out <dir>', 'output folder (default <run>/lincir); holds checkpoints, so a rerun resumes');
  addStageOptions(cmd, lincirStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson'], requireModel: true,
    help: { model: 'Hugging Face CLIP folder (the one the phrase targets were computed with)' } });
  cmd.action(async (source: string, raw: Record<string, unknown>) => {
    const options = stageOptionsFrom(lincirStage, raw); // every option checked before the model is loaded
    const shared = sharedOptionsFrom(raw);
    const src = resolve(source);
    if (!existsSync(src)) throw new UserError(`${source}: no such file or folder`);
    const out = raw.out ? resolve(raw.out as string) : join(src, 'lincir');
    const model = await loadClipModel(resolve(shared.model!));
    const { lock } = underLock(out, 'lincir', () => undefined); // one writer of the output folder (its checkpoints)
    const log = (l: string): void => { process.stderr.write(`${l}\n`); };
    const s = await runStage(lincirStage, stageContext(out, model, shared, { source: src }, log), options).finally(() => lock.release());
    const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toExponential(4));
    console.log(`lincir: ${s.train} train / ${s.heldOut} held-out phrases, ${s.steps} steps${s.resumedFrom !== null ? ' (resumed)' : ''}: `
      + `train loss ${f(s.last?.trainLoss)}, held-out loss ${f(s.last?.valLoss)}; ${s.files.onnx}, ${s.files.safetensors}, ${s.files.checkpoint}`);
  });
}
