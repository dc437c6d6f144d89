/**
 * `starword index --model DIR --images DIR|CSV --out DIR`: a gallery index for retrieval = the ingest and
 * embed stages (their declarations' options) on the gallery images, into a run folder.
 * (File named index-gallery.ts because pipeline/commands/index.ts is the command registry.)
 */
import type { Command } from 'commander';
import { embedStage } from '../../stages/embed/stage.ts';
import { ingestStage } from '../../stages/ingest/stage.ts';
import { type Options, runIndex } from '../index-gallery.ts';
import { addSharedOptions } from '../shared-options.ts';
import { addStageOptions } from '../stage-command.ts';

export function register(program: Command): void {
  const cmd = program.command('index')
    .description('gallery image features for retrieve/evaluate: ingest + embed into a run folder')
    .requiredOption('--images <dir|csv>', 'a folder of images or a CSV manifest (path column, optional id column)')
    .requiredOption('--out <dir>', 'the index (a run folder)');
  addSharedOptions(cmd, { keys: ['model', 'threads', 'device', 'cacheDir', 'logJson', 'force'], requireModel: true,
    help: { force: 'replan a folder indexed from other images' } });
  addStageOptions(cmd, ingestStage);
  addStageOptions(cmd, embedStage);
  cmd.action(async (opts: Options) => runIndex(opts));
}
