/**
 * `starword inspect OUT`: what a run folder (or a folder of shard run folders) holds: images planned,
 * parts and rows per stage, failures by category and stage, the distribution of the OTI losses, and
 * timings (per stage from run.json, per phase from the parts' stats). Reads one part at a time.
 */
import type { Command } from 'commander';
import { UserError } from '../../util/errors.ts';
import { inspectRun, formatReport } from '../inspect-run.ts';

export function register(program: Command): void {
  program.command('inspect')
    .description('print counts, failures, loss distribution and timings of a run folder')
    .argument('<dir>', 'a run folder, or a folder of shard-*-of-* run folders')
    .option('--json', 'print the report as one JSON object')
    .option('--verify', 'check every part\'s content (sha256, Arrow stream, rows), not only its size')
    .action((dir: string, opts: { json?: boolean; verify?: boolean }) => {
      const report = inspectRun(dir, opts.verify ? 'full' : 'size');
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatReport(report));
      const bad = report.integrity.bad;
      if (bad.length > 0) {
        throw new UserError(`${bad.length} bad part${bad.length > 1 ? 's' : ''}: ${bad.slice(0, 3).map((b) => `${b.path}: ${b.reason}`).join('; ')}`
          + `${bad.length > 3 ? `; and ${bad.length - 3} more` : ''}; rerun the stages to redo them`);
      }
    });
}
