/**
 * The changed-configuration guard compares a stage's options only once the stage has written something
 * (`run --until phrases`, then `oti` with other options, works; a phi that failed before writing takes other
 * options), and an error a stage raises names the flags of the command it runs under (`run --phi-batch`).
 * In-process, as validate.test.ts wires the commands.
 */
import test from 'ava';
import { Command, CommanderError } from 'commander';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../pipeline/commands/index.ts';
import { guardStageRun, openRunManifest, type RunRequest } from '../../pipeline/run-manifest.ts';
import { type RunCliOptions, runPipeline } from '../../pipeline/run-pipeline.ts';
import { errorMessage } from '../../util/errors.ts';
import { tempDir } from '../helpers/test-utils.ts';

const TOY = 'data/toyworld';
delete process.env.STARWORD_LLM_MODEL;
const modules = await Promise.all(COMMANDS.map((c) => c.load()));

function program(onRun?: (o: RunCliOptions) => Promise<void>): Command {
  const p = new Command('starword').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const mod of modules) mod.register(p);
  if (onRun) p.commands.find((c) => c.name() === 'run')!.action(onRun);
  for (const c of p.commands) c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return p;
}

async function failure(args: string[]): Promise<string> {
  try {
    await program().parseAsync(args, { from: 'user' });
    return '';
  } catch (err) {
    return err instanceof CommanderError ? err.message.replace(/^error: /, '') : errorMessage(err);
  }
}

async function run(args: string[]): Promise<string> {
  let error = '';
  await program(async (o) => {
    try { await runPipeline(o, () => {}); } catch (err) { error = errorMessage(err); }
  }).parseAsync(['run', ...args], { from: 'user' });
  return error;
}

function request(steps: number): RunRequest {
  return { config: { oti: { steps } }, model: { dir: 'm', hash: 'h' }, sources: {}, seeds: {}, shard: { index: 0, count: 1 } };
}

test('run.json: a stage\'s options are compared once its folder holds something, not before', (t) => {
  const dir = tempDir('guard', t.teardown);
  openRunManifest(dir, request(2));
  t.throws(() => openRunManifest(dir, request(5)), { message: /config\.oti\.steps 2 → 5/ }, 'strict unless asked');
  t.notThrows(() => openRunManifest(dir, request(5), false, true), 'oti wrote nothing: other OTI options are taken');
  t.is((JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { config: { oti: { steps: number } } }).config.oti.steps, 5);
  guardStageRun(dir, 'oti', { steps: 7 }, 'h').release();
  mkdirSync(join(dir, 'oti'));
  writeFileSync(join(dir, 'oti', 'tokens-00000.journal'), '');
  t.throws(() => openRunManifest(dir, request(2), false, true), { message: /config\.oti\.steps 7 → 2/ });
  t.throws(() => guardStageRun(dir, 'oti', { steps: 2 }, 'h'), { message: /oti\.steps 7 → 2/ });
});

function fixture(root: string): string[] {
  const images = join(root, 'images');
  mkdirSync(images);
  for (const name of readdirSync(join(TOY, 'phi-train')).sort().slice(0, 3)) cpSync(join(TOY, 'phi-train', name), join(images, name));
  const vocab = join(root, 'vocab.txt');
  writeFileSync(vocab, `${readFileSync(join(TOY, 'bench', 'vocab.txt'), 'utf8').split('\n').slice(0, 6).join('\n')}\n`);
  return ['--images', images, '--model', join(TOY, 'model'), '--vocab', vocab, '--top-k', '4', '--oti-top-k', '2',
    '--cache-dir', join(root, 'cache'), '--n', '4', '--oti-steps', '2', '--oti-batch', '2', '--threads', '1'];
}

test('run --until phrases, then oti with other options works; once OTI wrote parts, other options are refused', async (t) => {
  const root = tempDir('guard', t.teardown);
  const args = fixture(root);
  const out = join(root, 'out');
  t.is(await run([...args, '--out', out, '--until', 'phrases']), '');
  const oti = ['oti', '--run', out, '--model', join(TOY, 'model'), '--oti-top-k', '2', '--oti-batch', '2', '--cache-dir', join(root, 'cache'), '--threads', '1'];
  t.is(await failure([...oti, '--oti-steps', '3']), '');
  t.is((JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: { oti: { steps: number } } }).config.oti.steps, 3);
  t.regex(await failure([...oti, '--oti-steps', '4']), /^this run folder was made with a different configuration \(oti\.steps 3 → 4\)/);
});

test('run --phi: phi\'s own errors name run\'s --phi- flags; after a phi that wrote nothing, other phi options are taken', async (t) => {
  const root = tempDir('guard', t.teardown);
  const args = [...fixture(root), '--out', join(root, 'out'), '--phi', '--phi-top-k', '2', '--phi-epochs', '1'];
  const error = await run([...args, '--phi-batch', '64']);
  t.regex(error, /fewer than one batch of 64/);
  t.regex(error, /lower --phi-batch or pass --phi-keep-last-batch$/);
  t.notRegex(error, /(?<![\w-])--(batch|keep-last-batch)\b/, 'no flag that run lacks');
  t.is(await run([...args, '--phi-batch', '2']), '');
});
