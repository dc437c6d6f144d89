/**
 * docs/options.md, generated: every command and sub-command, every option with its default, and
 * SEARLE's value where starword's default differs, read from the commands as registered (so from the
 * stage declarations and the shared options). `starword docs options` prints it; a test compares it
 * with the page in the repository.
 */
import { Command, type Option } from 'commander';
import { COMMANDS } from './commands/index.ts';
import { DECLARED } from './schema-flags.ts';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown): string => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function optionRow(o: Option): string {
  const field = DECLARED.get(o);
  const help = field ? field.meta.help : o.description;
  const dflt = o.mandatory ? 'required' : o.defaultValue === undefined || o.defaultValue === false ? '' : code(o.defaultValue);
  const searle = field?.meta.searle === undefined ? '' : code(field.meta.searle);
  return `| \`${cell(o.flags)}\` | ${cell(dflt)} | ${cell(searle)} | ${cell(help)} |`;
}

function commandSection(cmd: Command, path: string[]): string[] {
  const name = [...path, cmd.name()].join(' ');
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ');
  const options = cmd.options.filter((o) => !o.hidden);
  const lines = [`### starword ${name}${args ? ` ${args}` : ''}`, '', cell(cmd.description()), ''];
  if (options.length > 0) {
    lines.push('| option | default | SEARLE | what it does |', '|---|---|---|---|', ...options.map(optionRow), '');
  }
  for (const sub of cmd.commands) lines.push(...commandSection(sub, [...path, cmd.name()]));
  return lines;
}

/** The page, as markdown. */
export async function optionsReference(): Promise<string> {
  const program = new Command('starword');
  for (const c of COMMANDS) (await c.load()).register(program);
  const lines = [
    '# Options reference',
    '',
    '<!-- generated: `npm run docs:options` (node bin/starword.js docs options > docs/options.md); test/pipeline/options-doc.test.ts fails when it is stale -->',
    '',
    'Every command of `starword` and every option, with its default. The SEARLE column gives SEARLE\'s (or, for',
    '`pic2word`, the Pic2Word authors\') value where starword\'s default differs; an empty cell means the default is',
    'theirs, or the option is starword\'s own. A stage\'s options are declared once, in `stages/<stage>/stage.ts`:',
    'the stage\'s command spells them `--<option>`, and `starword run` spells phi\'s `--phi-<option>` (OTI owns',
    '`--lr`, `--seed`, ... there). The shared options (`--model`, `--threads`, `--device`, `--cache-dir`, `--log-json`,',
    '`--force`) are declared in `pipeline/shared-options.ts`.',
    '',
  ];
  for (const cmd of program.commands) lines.push(...commandSection(cmd, []));
  return `${lines.join('\n').trimEnd()}\n`;
}
