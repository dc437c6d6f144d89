/** `starword oti --run DIR --model DIR`: the OTI stage alone on a run folder (resumable); stages/oti/stage.ts declares it. */
import type { Command } from 'commander';
import { otiStage } from '../../stages/oti/stage.ts';
import { checkTopKAgainstRun } from '../run-manifest.ts';
import { registerRunFolderStage } from '../stage-command.ts';

export function register(program: Command): void {
  registerRunFolderStage(program, otiStage, {
    runHelp: 'run folder (embed, concepts and phrases done)',
    inputs: (cmd) => cmd
      .option('--phrases <dir>', 'phrases folder (default <run>/phrases; a sharded run\'s one folder for all shards)')
      .option('--phrases-dir <dir>', 'the same as --phrases'),
    inputsFrom: (raw) => ({ phrasesDir: (raw.phrasesDir ?? raw.phrases) as string | undefined }),
    check: (runDir, o) => checkTopKAgainstRun(runDir, o.otiTopK, '--oti-top-k'),
    lambdaGpt: (o) => o.lambdaGpt,
    summary: (s) => `oti: ${s.images} images inverted now (${s.ok} ok, ${s.failed} failed), ${s.partsSkipped} of ${s.parts} parts already done, `
      + `median L_cos ${s.lcosMedian?.toFixed(4) ?? '-'}, L_gpt ${s.lgptMedian?.toFixed(4) ?? '-'}, ${s.seconds.toFixed(1)} s`,
  });
}
