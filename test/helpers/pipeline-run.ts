/** A tiny random model, generated images and a small vocabulary for end-to-end pipeline tests. */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { writeSampleImages } from './sample-images.ts';
import { tempDir } from './test-utils.ts';

export const BIN = new URL('../../bin/starword.js', import.meta.url).pathname;

export interface PipelineFixture { root: string; model: string; images: string; vocab: string; cache: string; good: number; broken: number }

/** 24 good images + 3 broken ones, a tiny model, a 40-name vocabulary. */
export async function pipelineFixture(images = 24): Promise<PipelineFixture> {
  const root = tempDir('e2e');
  const model = join(root, 'model');
  await makeRandomModel({ preset: 'tiny', seed: 3, outDir: model });
  const made = await writeSampleImages(join(root, 'images'), images, 5);
  const vocab = join(root, 'vocab.txt');
  writeFileSync(vocab, ['dog', 'cat', 'red ball', 'tree', 'car', 'bicycle', 'apple', 'chair', 'window', 'cloud', 'circle', 'square',
    'triangle', 'flower', 'boat', 'house', 'lamp', 'book', 'cup', 'shoe', 'hat', 'bird', 'fish', 'horse', 'table', 'door', 'road',
    'mountain', 'river', 'bridge', 'clock', 'phone', 'guitar', 'piano', 'kite', 'train', 'bus', 'plane', 'star', 'moon'].join('\n'));
  return { root, model, images: join(root, 'images'), vocab, cache: join(root, 'cache'), good: made.good, broken: made.broken };
}

export function runArgs(f: PipelineFixture, out: string, extra: string[] = []): string[] {
  return [BIN, 'run', '--images', f.images, '--model', f.model, '--out', out, '--vocab', f.vocab, '--top-k', '10', '--oti-top-k', '10',
    '--cache-dir', f.cache, '--backend', 'templates', '--n', '6', '--oti-steps', '12', '--oti-batch', '4', '--part-size', '8',
    '--threads', '1', ...extra];
}

export function runSync(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export { spawn };
