/**
 * `starword merge`: checks that the shards of a run are complete and consistent, then builds ONE corpus
 * (pipeline/corpus.ts) that every later command takes as a run folder: `phi --run`, `invert
 * --features`, `retrieve`/`evaluate --index/--tokens`, `inspect`. Checks: every shard present exactly
 * once with the same shard count, config fingerprint and image source (a hash of the ids, not their
 * paths, so mount points may differ); every planned part of every stage done (and computed from the
 * current plan); each image in exactly one shard, the one its id hashes to; one phrases folder for all.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../util/errors.ts';
import { CORPUS_DIR } from '../sharding.ts';
import { findRunDirs, mergeRuns } from '../merge-runs.ts';

export function register(program: Command): void {
  program.command('merge')
    .description('check that every shard of a run is complete and consistent, and build its one corpus (a run folder phi, retrieve, evaluate, inspect read)')
    .argument('[dir]', `a folder of shard-*-of-* run folders (the corpus goes to <dir>/${CORPUS_DIR} unless --out)`)
    .option('--runs <dirs...>', 'the shard run folders, listed')
    .option('--out <dir>', `the corpus folder (default <dir>/${CORPUS_DIR})`)
    .option('--phrases <dir>', 'the phrases folder made once for all shards (default <dir>/phrases)')
    .option('--copy', 'copy the parts instead of hard-linking them (links are used where the file system allows)')
    .option('--verify', 'check every part\'s content hash, Arrow stream and rows (the default)')
    .option('--size-only', 'check only each part\'s marker and size, not its content (faster; the output says so)')
    .action(async (dir: string | undefined, opts: { runs?: string[]; out?: string; phrases?: string; copy?: boolean; verify?: boolean; sizeOnly?: boolean }) => {
      if (opts.verify && opts.sizeOnly) throw new UserError('give --verify or --size-only, not both');
      if (dir && opts.runs) throw new UserError('give a folder or --runs, not both');
      if (!dir && !opts.runs) throw new UserError('give the run folder, or --runs DIR... --out DIR');
      if (opts.runs && !opts.out) throw new UserError('--runs needs --out');
      const runs = dir ? findRunDirs(dir) : (opts.runs as string[]);
      const out = opts.out ?? join(dir as string, CORPUS_DIR);
      const c = await mergeRuns(runs, out, { phrases: opts.phrases, copy: opts.copy, verify: opts.sizeOnly ? 'size' : 'full' }, dir ? resolve(dir) : null);
      const kinds = Object.entries(c.rows).filter(([k]) => !k.startsWith('ingest/')).map(([k, n]) => `${k} ${n} rows in ${c.kinds[k].length} parts`);
      const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
      process.stdout.write(`merged ${c.shardCount} shard${c.shardCount > 1 ? 's' : ''}, ${c.images} images`
        + `${kinds.length ? `: ${kinds.join(', ')}` : ''}${c.phrases ? `; phrases from ${c.phrases.from} (${c.phrases.files} files)` : '; no phrases'}`
        + ` -> ${out}${c.kept ? ' (unchanged, kept)' : ''}${c.keptEntries.length ? ` (rebuilt; kept ${c.keptEntries.join(', ')}: not made by merge)` : ''}; `
        + `${c.placed.linked} files linked (${mb(c.placed.bytesLinked)}, no extra disk), ${c.placed.copied} copied (${mb(c.placed.bytesCopied)}); `
        + `${opts.sizeOnly ? 'WARNING: content hashes NOT checked (--size-only): a damaged part of the same size would be merged' : 'every part\'s content hash checked'}\n`);
    });
}
