/**
 * The `starword` command line. Each sub-command lives in pipeline/commands/<name>.ts and exports
 * `register(program)`; this file only wires them and turns errors into one-line messages and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { UserError, errorMessage } from '../util/errors.ts';
import { fsUserError, isErrnoError } from '../util/fs-errors.ts';
import { commandModules } from './commands/index.ts';

const program = new Command('starword')
  .description('SEARLE data pipeline: CLIP concepts, LLM phrases, OTI pseudo-tokens, Arrow shards, phi')
  .exitOverride()
  // usage errors as one line in starword's own format; `--help` shows the usage
  .configureOutput({ outputError: (text, write) => write(`starword: ${text.replace(/^error: /, '').trim()} (see --help)\n`) });

for (const mod of commandModules) mod.register(program);

try {
  await program.parseAsync(process.argv);
} catch (caught) {
  let err = caught;
  if (err instanceof CommanderError) {
    // help / version exit 0; usage errors were already printed by commander.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  // a file problem that escaped unnamed: one line, with the path when the error carries one
  if (isErrnoError(err)) err = fsUserError(err);
  if (err instanceof UserError) {
    process.stderr.write(`starword: ${errorMessage(err)}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`starword: internal error: ${errorMessage(err)}\n`);
  if (process.env.STARWORD_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  process.exit(1);
}
