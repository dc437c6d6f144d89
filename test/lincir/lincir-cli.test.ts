/**
 * `starword lincir` and the `--lincir` flags as a user types them: bad options and inputs are refused in
 * one line with exit 2, before any model is loaded; the flags come from the stage's zod options.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_MODEL_DIR } from '../helpers/golden.ts';

const root = mkdtempSync(join(tmpdir(), 'starword-lincir-cli-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const cli = (args: string[]) => spawnSync('node', ['bin/starword.js', ...args], { env: process.env, encoding: 'utf8' });

test('bad options and inputs are refused with one line and exit 2', (t) => {
  const cases: [string[], RegExp][] = [
    [['lincir', root, '--model', TINY_MODEL_DIR, '--dropout', '1'], /--dropout/],
    [['lincir', root, '--model', TINY_MODEL_DIR, '--noise', 'loud'], /--noise/],
    [['lincir', root, '--model', TINY_MODEL_DIR, '--steps', '-3'], /--steps/],
    [['lincir', root, '--model', TINY_MODEL_DIR, '--batch', 'x'], /--batch/],
    [['lincir', join(root, 'missing'), '--model', TINY_MODEL_DIR], /no such file or folder/],
    [['lincir', root, '--model', TINY_MODEL_DIR], /no phrases folder/],
    [['invert', '--lincir', join(root, 'nothing.onnx'), '--features', root, '--out', join(root, 'tok')], /--lincir .*no such file/],
    [['invert', '--lincir', 'a.onnx', '--phi', 'b.onnx', '--features', root, '--out', join(root, 'tok')], /exactly one of/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('--help lists the LinCIR options with their defaults', (t) => {
  const r = cli(['lincir', '--help']);
  t.is(r.status, 0);
  for (const flag of ['--steps', '--batch', '--lr', '--weight-decay', '--dropout', '--noise', '--noise-sigma', '--log-every', '--val-phrases']) t.regex(r.stdout, new RegExp(`${flag} `), flag);
  t.regex(r.stdout, /default: 50000\)/);
});
