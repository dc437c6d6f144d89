/**
 * docs/options.md is generated from the declarations and must equal what the code generates; each stage's
 * options become its command's flags and `run`'s (phi's under the derived --phi- prefix) with no two
 * stages of `run` sharing a flag; every command that runs a model takes --device.
 */
import test from 'ava';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { COMMANDS } from '../../pipeline/commands/index.ts';
import { optionsReference } from '../../pipeline/options-reference.ts';
import { PIPELINE } from '../../pipeline/run-pipeline.ts';
import { flagOf } from '../../pipeline/schema-flags.ts';
import { sharedOptionsSchema } from '../../pipeline/shared-options.ts';
import { respellFlags, stageFlag } from '../../pipeline/stage-command.ts';
import { phiStage } from '../../stages/phi/stage.ts';
import { pic2wordStage } from '../../stages/pic2word/stage.ts';

const modules = await Promise.all(COMMANDS.map((c) => c.load()));
const program = new Command('starword');
for (const m of modules) m.register(program);
const command = (path: string): Command => path.split(' ').reduce<Command>((c, name) => c.commands.find((s) => s.name() === name)!, program);
const flags = (c: Command): string[] => c.options.filter((o) => !o.hidden).map((o) => o.long!);

test('docs/options.md is what `starword docs options` generates (regenerate: npm run docs:options)', async (t) => {
  t.is(readFileSync('docs/options.md', 'utf8'), await optionsReference());
});

test('each stage option is one flag in its command and in run (phi\'s prefix derived); no two run stages share a flag', (t) => {
  const run = flags(command('run'));
  const seen = new Map<string, string>();
  for (const def of PIPELINE) {
    for (const key of Object.keys(def.options.shape)) {
      const inRun = stageFlag(def, key, true);
      t.true(run.includes(inRun), `run lacks ${inRun}`);
      t.is(inRun, def.prefixedInRun ? flagOf(key, `${def.name}-`) : flagOf(key));
      t.false(seen.has(inRun), `${inRun} of ${def.name} is also ${seen.get(inRun)}'s`);
      seen.set(inRun, def.name);
      if (def.name !== 'ingest' && def.name !== 'embed') t.true(flags(command(def.name)).includes(flagOf(key)), `${def.name} lacks ${flagOf(key)}`);
    }
  }
  for (const key of Object.keys(sharedOptionsSchema.shape)) t.false(seen.has(flagOf(key)), `${flagOf(key)} is shared and a stage's`);
  for (const key of Object.keys(pic2wordStage.options.shape)) t.true(flags(command('pic2word')).includes(flagOf(key)));
});

test('--device on every command that runs a model, once', (t) => {
  const models = ['run', 'oti', 'phi', 'concepts', 'phrases', 'pic2word', 'index', 'retrieve', 'evaluate', 'submission', 'invert', 'serve',
    'embed-text', 'embed-images', 'demo', 'debug oti', 'bench oti', 'bench embed', 'bench text', 'bench scale'];
  for (const path of models) t.is(flags(command(path)).filter((f) => f === '--device').length, 1, path);
});

test('a stage\'s error re-spelt for run names run\'s flags, and only whole flags', (t) => {
  const msg = 'lower --batch or pass --keep-last-batch; --val-cirr needs --val-cirr-index DIR; --batch-size stays';
  t.is(respellFlags(msg, phiStage, true), 'lower --phi-batch or pass --phi-keep-last-batch; --phi-val-cirr needs --phi-val-cirr-index DIR; --batch-size stays');
  t.is(respellFlags(msg, phiStage, false), msg, 'phi\'s own command spells them as they are');
});

test('a spelling a command no longer has is refused with one line naming the new one', async (t) => {
  const fresh = (): Command => {
    const p = new Command('starword').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    for (const m of modules) m.register(p);
    for (const c of p.commands) c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    return p;
  };
  const refusal = async (args: string[]): Promise<string> => {
    try { await fresh().parseAsync(args, { from: 'user' }); return ''; } catch (err) { return (err as Error).message; }
  };
  t.regex(await refusal(['phrases', '--concepts', 'c.txt', '--out', 'o', '--seed', '3']), /--seed is now --phrases-seed$/);
  t.regex(await refusal(['concepts', '--model', 'm', '--features', 'f', '--out', 'o', '--batch-size', '4']), /--batch-size is now --vocab-batch$/);
});
