/** `starword oti --run DIR --model DIR`: the OTI stage alone on a run folder (resumable). */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { loadModel } from '../model-loading.ts';
import { recordRunWarning, templatePartsWarning } from '../run-warnings.ts';
import { checkTopKAgainstRun } from '../option-checks.ts';
import { guardStageRun, readRunManifest } from '../run-manifest.ts';
import { positiveIntOption } from '../options.ts';
import { type OtiCliOptions, addOtiOptions, otiOptionsFrom, runOtiStage } from '../stage-runners/oti.ts';

export function register(program: Command): void {
  const cmd = program.command('oti')
    .description('optimisation-based textual inversion of every embedded image (SEARLE defaults), as tokens parts')
    .requiredOption('--run <dir>', 'run folder (embed, concepts and phrases done)')
    .requiredOption('--model <dir>', 'Hugging Face CLIP folder')
    .option('--phrases <dir>', 'phrases folder (default <run>/phrases; a sharded run\'s one folder for all shards)')
    .option('--phrases-dir <dir>', 'the same as --phrases')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', positiveIntOption)
    .option('--cache-dir <dir>', 'graph cache (default $STARWORD_CACHE_DIR or ~/.cache/starword)')
    .option('--force', 'accept options or a model other than the run recorded: the parts made otherwise are redone')
    .option('--log-json', 'progress as JSON lines on stderr', false);
  addOtiOptions(cmd).action(async (o: OtiCliOptions & { run: string; model: string; phrases?: string; force?: boolean }) => {
    o.phrasesDir ??= o.phrases;
    const options = otiOptionsFrom(o); // every option checked, before the model is loaded
    checkTopKAgainstRun(readRunManifest(resolve(o.run))?.config, o.otiTopK, '--oti-top-k');
    const model = await loadModel(resolve(o.model));
    // the same guard as `run`: one writer, and no silent change of options or model
    const lock = guardStageRun(resolve(o.run), 'oti', options, model.hash, !!o.force);
    const warning = templatePartsWarning(resolve(o.phrasesDir ?? join(o.run, 'phrases')), model.dir, o.lambdaGpt);
    if (warning) {
      process.stderr.write(`warning: ${warning}\n`);
      recordRunWarning(resolve(o.run), warning);
    }
    const s = await runOtiStage(resolve(o.run), model, o, (l) => process.stderr.write(`${l}\n`));
    lock.release();
    console.log(`oti: ${s.images} images inverted now (${s.ok} ok, ${s.failed} failed), ${s.partsSkipped} of ${s.parts} parts already done, `
      + `median L_cos ${s.lcosMedian?.toFixed(4) ?? '-'}, L_gpt ${s.lgptMedian?.toFixed(4) ?? '-'}, ${s.seconds.toFixed(1)} s`);
  });
}
