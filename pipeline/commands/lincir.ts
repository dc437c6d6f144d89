/**
 * `starword lincir [RUN_OR_CORPUS] --model DIR [--out DIR] [--captions FILE [--vocab FILE]]`: train LinCIR's
 * φ on the phrase store of a run folder, a merged corpus or a phrases folder, and/or a caption file's
 * (stages/lincir/stage.ts declares it) — text only: the masked
 * phrase (`$` for its concept) against the phrase's own text feature — resumable from its checkpoints;
 * export ONNX, safetensors (SEARLE's Phi layout) and LinCIR's own checkpoint (lincir.pt: {'epoch', 'Phi'}).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { checkCaptionFile } from '../../stages/lincir/caption-file.ts';
import { lincirStage } from '../../stages/lincir/stage.ts';
import { loadVocabulary } from '../../stages/concepts/vocab.ts';
import { UserError } from '../../util/errors.ts';
import { underLock } from '../run-manifest.ts';
import { addSharedOptions, sharedOptionsFrom } from '../shared-options.ts';
import { addStageOptions, runStage, stageContext, stageOptionsFrom } from '../stage-command.ts';

export function register(program: Command): void {
  const cmd = program.command('lincir')
    .description(lincirStage.summary)
    .argument('[run-or-corpus]', 'a run folder (its phrases/), a merged corpus (DIR/corpus or DIR), or a phrases folder; optional with --captions')
    .option('--out <dir>', 'output folder (default <run>/lincir; required with --captions alone); holds checkpoints and the captions\' targets, so a rerun resumes');
  addStageOptions(cmd, lincirStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson'], requireModel: true,
    help: { model: 'Hugging Face CLIP folder (the one the phrase targets were computed with)' } });
  cmd.action(async (source: string | undefined, raw: Record<string, unknown>) => {
    const options = stageOptionsFrom(lincirStage, raw); // every option checked before the model is loaded
    const shared = sharedOptionsFrom(raw);
    if (source === undefined && options.captions === undefined) throw new UserError('lincir: give a run or corpus folder, or --captions FILE');
    if (options.vocab !== undefined && options.captions === undefined) throw new UserError('--vocab masks the keywords of --captions: give --captions FILE too');
    const src = source === undefined ? undefined : resolve(source);
    if (src !== undefined && !existsSync(src)) throw new UserError(`${source}: no such file or folder`);
    if (options.captions !== undefined) checkCaptionFile(options.captions);
    if (options.vocab !== undefined) loadVocabulary(options.vocab);
    if (src === undefined && !raw.out) throw new UserError('--captions without a run: give --out DIR for φ, its checkpoints and the captions\' targets');
    const out = raw.out ? resolve(raw.out as string) : join(src!, 'lincir');
    const model = await loadClipModel(resolve(shared.model!));
    const { lock } = underLock(out, 'lincir', () => undefined); // one writer of the output folder (its checkpoints)
    const log = (l: string): void => { process.stderr.write(`${l}\n`); };
    const captions = options.captions === undefined ? undefined : resolve(options.captions);
    const s = await runStage(lincirStage, stageContext(out, model, shared, { source: src }, log), { ...options, captions }).finally(() => lock.release());
    const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toExponential(4));
    if (s.captions) {
      const c = s.captions;
      console.log(`lincir: captions ${options.captions}: ${c.kept} of ${c.lines} lines kept; skipped ${c.noKeyword} without a vocabulary name, `
        + `${c.cut} with the keyword past the context length, ${c.blank} blank; targets in ${c.dir}${c.partsBuilt < c.parts ? ` (${c.parts - c.partsBuilt} of ${c.parts} parts kept from before)` : ''}`);
    }
    console.log(`lincir: ${s.train} train / ${s.heldOut} held-out rows, ${s.steps} steps${s.resumedFrom !== null ? ' (resumed)' : ''}: `
      + `train loss ${f(s.last?.trainLoss)}, held-out loss ${f(s.last?.valLoss)}; ${s.files.onnx}, ${s.files.safetensors}, ${s.files.checkpoint}`);
  });
}
