/** `starword run --images DIR|CSV --model DIR --out DIR`: the whole pipeline on one shard, resumable. */
import type { Command } from 'commander';
import { positiveIntOption } from '../options.ts';
import { PIPELINE, type RunCliOptions, STAGES, runPipeline } from '../run-pipeline.ts';
import { addSharedOptions } from '../shared-options.ts';
import { addStageOptions } from '../stage-command.ts';

export function register(program: Command): void {
  let cmd = program.command('run')
    .description('ingest → embed → concepts → phrases → oti on a folder or CSV manifest of images (resumable)')
    .requiredOption('--images <dir|csv>', 'a folder of images or a CSV manifest (path column, optional id column)')
    .requiredOption('--out <dir>', 'run folder (a sharded run writes shard-IIIII-of-NNNNN/ inside it)')
    .option('--until <stage>', `stop after this stage: ${STAGES.join(' | ')} (default: oti, or phi with --phi)`)
    .option('--phi', 'train phi on the OTI tokens after OTI (options --phi-*; one shard only: shards merge, then phi)')
    .option('--phrases <dir>', 'phrases folder made once for all shards (starword phrases --concepts-from): skip the phrases stage, OTI reads it')
    .option('--shard-index <i>', 'this worker\'s shard (default: $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID)')
    .option('--shard-count <n>', 'number of shards (default: $SLURM_ARRAY_TASK_COUNT, else 1)')
    .option('--phrases-top-k <n>', 'phrases are made for the union of each image\'s top-k concepts (default: --oti-top-k)', positiveIntOption);
  cmd = addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson', 'force'], requireModel: true,
    help: { force: 'accept a changed config in an existing run folder (results may then mix)' } });
  for (const def of PIPELINE) addStageOptions(cmd, def, true);
  cmd.action(async (o: RunCliOptions) => {
    const r = await runPipeline(o, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(`${r.runDir}\n`);
  });
}
