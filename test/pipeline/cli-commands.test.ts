import test from 'ava';
import { Command } from 'commander';
import { COMMANDS } from '../../pipeline/commands/index.ts';
import { BIN, runSync } from '../helpers/pipeline-run.ts';

test('each listed command registers itself under its name, with the summary --help lists', async (t) => {
  const names = COMMANDS.map((c) => c.name);
  t.is(new Set(names).size, names.length, 'no command is listed twice');
  for (const entry of COMMANDS) {
    const program = new Command('starword');
    (await entry.load()).register(program);
    const cmd = program.commands.find((c) => c.name() === entry.name);
    t.truthy(cmd, `${entry.name} registers a command of that name`);
    t.is(cmd?.description(), entry.summary, `${entry.name}: the summary in commands/index.ts matches the command's own`);
  }
});

test('--help lists every command; an unknown command is one line and exit 2', (t) => {
  const help = runSync([BIN, '--help']);
  t.is(help.status, 0);
  for (const c of COMMANDS) t.regex(help.stdout, new RegExp(`^  ${c.name} `, 'm'));
  const bad = runSync([BIN, 'no-such-command']);
  t.is(bad.status, 2);
  t.is(bad.stderr.trim().split('\n').length, 1);
  t.regex(bad.stderr, /no-such-command/);
});
