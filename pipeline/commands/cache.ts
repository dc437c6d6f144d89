/**
 * `starword cache merge OUT A B ...`: one phrase cache from the local caches of separate phrases jobs
 * (stages/phrases/cache-merge.ts). A phrases run pointed at OUT then pays for no concept again.
 */
import type { Command } from 'commander';
import { mergePhraseCaches } from '../../stages/phrases/cache-merge.ts';

export function register(program: Command): void {
  const cache = program.command('cache').description('phrase caches (SQLite): merge the caches of separate jobs');
  cache.command('merge')
    .description('merge phrase caches into OUT (kept if it exists): each concept once, with its complete sample set')
    .argument('<out>', 'the merged cache file (created, or merged into)')
    .argument('<caches...>', 'the caches to merge (each made on its own local disk)')
    .action((out: string, caches: string[]) => {
      const r = mergePhraseCaches(out, caches);
      process.stdout.write(`cache merge: ${r.inputs.length} caches -> ${r.out}: ${r.concepts} concepts (${r.ok} answered, ${r.failed} failed), `
        + `${r.phrases} phrases; ${r.duplicates} paid more than once (one complete set kept), ${r.damaged} damaged and left out\n`);
    });
}
