/**
 * The `starword` command line. Each sub-command lives in pipeline/commands/<name>.ts and exports
 * `register(program)`; this file only wires them and turns errors into one-line messages and exit codes.
 * Only the module of the command being run is imported: `--help` lists the summaries of
 * commands/index.ts without loading any of them.
 */
import { Command, CommanderError } from 'commander';
import { UserError, errorMessage } from '../util/errors.ts';
import { fsUserError, isErrnoError } from '../util/fs-errors.ts';
import { COMMANDS } from './commands/index.ts';

const program = new Command('starword')
  .description('SEARLE data pipeline: CLIP concepts, LLM phrases, OTI pseudo-tokens, Arrow shards, phi')
  .exitOverride()
  // usage errors as one line in starword's own format; `--help` shows the usage
  .configureOutput({ outputError: (text, write) => write(`starword: ${text.replace(/^error: /, '').trim()} (see --help)\n`) });

// --device auto becomes the device it picks before any action runs, so every command, run.json and inspect see
// the device itself (clip/runtime/device.ts: a hardware GPU, never a software adapter, else the CPU)
program.hook('preAction', async (_program, command) => {
  if (command.getOptionValue('device') !== 'auto') return;
  const { openDevice } = await import('../clip/runtime/device.ts'); // onnxruntime-node: loaded only when asked for
  const { device } = await openDevice('auto', command.getOptionValue('cacheDir') as string | undefined);
  command.setOptionValue('device', device);
  process.stderr.write(`--device auto: ${device}\n`);
});

// the first word that is not an option names the command (commander's own rule: options come after it)
const wanted = process.argv.slice(2).find((a) => !a.startsWith('-'));
const entry = COMMANDS.find((c) => c.name === wanted);
if (entry) (await entry.load()).register(program);
else for (const c of COMMANDS) program.command(c.name).description(c.summary);

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
