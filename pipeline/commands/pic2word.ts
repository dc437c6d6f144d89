/**
 * `starword pic2word RUN_OR_CORPUS --model DIR [--out DIR]`: train Pic2Word's mapping network f_M on the raw
 * image features of a run folder or merged corpus (stages/pic2word/stage.ts declares it), resumable from its
 * checkpoints; export ONNX + safetensors in the authors' IM2TEXT layout.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pic2wordStage } from '../../stages/pic2word/stage.ts';
import { UserError } from '../../util/errors.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { addSharedOptions, sharedOptionsFrom } from '../shared-options.ts';
import { addStageOptions, runStageLocked, stageContext, stageOptionsFrom } from '../stage-command.ts';

export function register(program: Command): void {
  const cmd = program.command('pic2word')
    .description(pic2wordStage.summary)
    .argument('<run-or-corpus>', 'a run folder (its embed/), an embed folder, a features .arrow file, or a merged corpus (DIR/corpus that `starword merge DIR` builds, or DIR)')
    .option('--out <dir>', 'output folder (default <run>/pic2word); holds checkpoints, so a rerun resumes');
  addStageOptions(cmd, pic2wordStage);
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson'], requireModel: true,
    help: { model: 'Hugging Face CLIP folder (the one the features were embedded with)' } });
  cmd.action(async (source: string, raw: Record<string, unknown>) => {
    const options = stageOptionsFrom(pic2wordStage, raw);
    const shared = sharedOptionsFrom(raw);
    const src = resolve(source);
    if (!existsSync(src)) throw new UserError(`${source}: no such file or folder`);
    if (!raw.out && !statSync(src).isDirectory()) throw new UserError(`--out is required when the source is a file (${source})`);
    const out = raw.out ? resolve(raw.out as string) : join(src, 'pic2word');
    const model = await loadClipModel(resolve(shared.model!));
    const log = (l: string): void => { process.stderr.write(`${l}\n`); };
    const s = await runStageLocked(pic2wordStage, stageContext(out, model, shared, { source: src }, log), options);
    const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));
    console.log(`pic2word: ${s.train} train / ${s.val} held-out images, ${s.stepsPerEpoch} steps per epoch, ${s.epochsRunNow} epochs run now`
      + `${s.resumedFrom !== null ? ` (resumed after epoch ${s.resumedFrom})` : ''}, epoch ${s.last?.epoch ?? 0}: `
      + `train loss ${f(s.last?.trainLoss)}, held-out loss ${f(s.last?.valLoss)}, cosine ${f(s.last?.valCosine)}; ${s.files.onnx}, ${s.files.safetensors}`);
  });
}
