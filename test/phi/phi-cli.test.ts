/** The phi and invert commands end to end on a synthetic run, and their one-line refusals. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readInitTokens } from '../../stages/oti/init-from.ts';
import { testCacheDir } from '../helpers/golden.ts';
import { SYN_DIMS, makeSyntheticModel, makeSyntheticRun } from './synthetic-run.ts';
import { tempDir } from '../helpers/test-utils.ts';

const cacheDir = testCacheDir();
const env = { ...process.env, STARWORD_CACHE_DIR: cacheDir };
const setup = Promise.all([makeSyntheticModel(), makeSyntheticRun(60)]);
const made: string[] = [cacheDir];
test.after.always(async () => {
  for (const d of [...made, ...(await setup)]) rmSync(d, { recursive: true, force: true });
});
const cli = (args: string[]) => spawnSync('node', ['bin/starword.js', ...args], { env, encoding: 'utf8' });

test('phi trains and exports into <run>/phi, and invert --features writes warm starts', async (t) => {
  const [model, run] = await setup;
  const r = cli(['phi', '--run', run, '--model', model, '--epochs', '2', '--batch', '16', '--val-fraction', '0.2', '--threads', '1']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^phi: \d+ train \/ \d+ held-out images, 2 epochs run now, epoch 2: held-out L_distil [\d.]+/);
  for (const f of ['phi.onnx', 'phi.safetensors', 'metrics.arrow', 'losses.png']) t.true(existsSync(join(run, 'phi', f)), f);
  const out = tempDir('phi-cli');
  made.push(out);
  const inv = cli(['invert', '--phi', join(run, 'phi', 'phi.safetensors'), '--features', join(run, 'embed'), '--out', out, '--threads', '1']);
  t.is(inv.status, 0, inv.stderr);
  t.regex(inv.stdout, /^invert: 60 images now \(60 ok, 0 failed\)/);
  t.is(readInitTokens(out, SYN_DIMS.textWidth).size, 60);
});

test('bad options and inputs are refused with one line and exit 2', async (t) => {
  const [model, run] = await setup;
  const cases: [string[], RegExp][] = [
    [['phi', '--run', run, '--model', model, '--dropout', '1'], /dropout must be in \[0, 1\)/],
    [['phi', '--run', run, '--model', model, '--batch', 'x'], /option '--batch <n>' argument 'x' is invalid\. expected an integer/],
    [['phi', '--run', join(run, 'nowhere'), '--model', model], /no finished tokens parts/],
    [['invert', '--phi', join(run, 'nope.onnx'), '--features', join(run, 'embed'), '--out', run], /no such file/],
    [['invert', '--phi', join(run, 'x.onnx'), '--out', run], /exactly one of --images and --features/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr.trim(), re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
