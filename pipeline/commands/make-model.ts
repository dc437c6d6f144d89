/**
 * `starword make-model --preset tiny|b32|l14|h14|bigg --seed N --out DIR [--dtype f32|f16|bf16] [--force]`:
 * writes a random CLIP checkpoint in Hugging Face layout and prints the folder and its size.
 */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { PRESETS, isPreset, makeRandomModel } from '../../clip/weights/make-model.ts';
import type { FloatDtype } from '../../clip/weights/safetensors.ts';

interface Options { preset: string; seed: string; out: string; dtype: string; force?: boolean }

const DTYPES: Record<string, FloatDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Refuses to write into a folder that already holds something, unless forced. */
async function checkOut(dir: string, force: boolean): Promise<void> {
  let info;
  try { info = await stat(dir); } catch { return; }
  if (!info.isDirectory()) throw new UserError(`--out ${dir} exists and is not a folder`);
  if (!force && (await readdir(dir)).length > 0) throw new UserError(`--out ${dir} exists and is not empty (use --force to write into it)`);
}

export function register(program: Command): void {
  program
    .command('make-model')
    .description('write a random CLIP checkpoint in Hugging Face layout (config.json + model.safetensors)')
    .requiredOption('--preset <name>', `architecture: ${PRESETS.join(' | ')}`)
    .requiredOption('--out <dir>', 'folder to write')
    .option('--seed <n>', 'random seed (same seed, same bytes)', '0')
    .option('--dtype <type>', 'stored dtype: f32 | f16 | bf16', 'f32')
    .option('--force', 'write into a folder that is not empty')
    .action(async (opts: Options) => {
      if (!isPreset(opts.preset)) throw new UserError(`unknown preset '${opts.preset}' (choose ${PRESETS.join(', ')})`);
      if (!/^\d+$/.test(opts.seed) || !Number.isSafeInteger(Number(opts.seed))) throw new UserError(`--seed must be a non-negative integer, got '${opts.seed}'`);
      const dtype = DTYPES[opts.dtype.toLowerCase()];
      if (!dtype) throw new UserError(`unknown --dtype '${opts.dtype}' (choose f32, f16, bf16)`);
      const out = resolve(opts.out);
      await checkOut(out, opts.force === true);
      const made = await makeRandomModel({ preset: opts.preset, seed: Number(opts.seed), outDir: out, dtype });
      process.stdout.write(`${made.dir}\t${formatBytes(made.bytes)}\n`);
    });
}
