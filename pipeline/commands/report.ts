/**
 * `starword report RUN [--eval DIR|FILE] --out DIR [--sample N]`: a static, self-contained HTML report
 * of a run (and of its evaluation): index.html with CSS, script and charts inline, thumbnails in thumbs/
 * beside it. Opens from the file system; nothing is fetched from anywhere.
 */
import type { Command } from 'commander';
import { positiveIntOption } from '../options.ts';
import { writeReport } from '../report/write-report.ts';

export function register(program: Command): void {
  program.command('report')
    .description('a static HTML report of a run folder and, with --eval, of its evaluation')
    .argument('<run>', 'a run folder, or a folder of shard-*-of-* run folders')
    .requiredOption('--out <dir>', 'report folder (index.html and thumbs/)')
    .option('--eval <path>', 'evaluate\'s output: its folder, or its table JSON (rankings.jsonl beside it)')
    .option('--sample <n>', 'images shown with thumbnails and concepts; concepts shown with phrases', positiveIntOption, 300)
    .option('--queries <n>', 'evaluation queries shown with their top-10 per method', positiveIntOption, 40)
    .option('--title <text>', 'page title')
    .action(async (run: string, o: { out: string; eval?: string; sample: number; queries: number; title?: string }) => {
      const r = await writeReport({ run, out: o.out, eval: o.eval, sample: o.sample, queries: o.queries, title: o.title });
      process.stderr.write(`report: ${r.thumbnails} thumbnails, ${(r.bytes / 1024).toFixed(0)} KiB of HTML\n`);
      process.stdout.write(`${r.html}\n`);
    });
}
