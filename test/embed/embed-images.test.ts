import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { embedImageStream, pixelsFromJson } from '../../pipeline/embed-image-stream.ts';
import { FakeImageEncoder, tempDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/tiny-clip');
const run = promisify(execFile);

async function drive(lines: string[], preprocess: (p: string) => Promise<Float32Array>, batchSize = 2): Promise<Record<string, unknown>[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (c: Buffer) => chunks.push(c));
  input.end(lines.map((l) => `${l}\n`).join(''));
  await embedImageStream({ encoder: new FakeImageEncoder(2), preprocess, batchSize, input, output });
  return Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const px = (v: number): number[][][] => [[[v, v], [v, v]], [[0, 0], [0, 0]], [[1, 1], [1, 1]]];

test('embed-images stream: one answer per line, in order; unreadable files and bad lines answered with errors', async (t) => {
  const preprocess = async (p: string): Promise<Float32Array> => {
    if (p === 'bad.png') throw new Error('bad.png: not an image');
    return new Float32Array(12).fill(0.5);
  };
  const out = await drive([
    JSON.stringify({ pixels: px(2) }),
    JSON.stringify({ path: 'bad.png' }),
    JSON.stringify({ path: 'good.png' }),
    JSON.stringify({ pixels: [[1]] }),
    JSON.stringify({ other: 1 }),
    JSON.stringify({ pixels: px(4) }),
  ], preprocess);
  t.is(out.length, 6);
  t.deepEqual(out[0], { features: [2, 0, 1, 3, 1] });
  t.deepEqual(out[1], { path: 'bad.png', error: 'bad.png: not an image' });
  t.deepEqual(out[2], { features: [0.5, 0.5, 0.5, 1.5, 1] });
  t.regex(String(out[3].error), /\[3\]\[2\]\[2\]/);
  t.truthy(out[4].error);
  t.deepEqual(out[5], { features: [4, 0, 1, 5, 1] });
});

test('pixelsFromJson: shape and value checks', (t) => {
  t.deepEqual(Array.from(pixelsFromJson(px(3), 2) as Float32Array).slice(0, 5), [3, 3, 3, 3, 0]);
  t.is(typeof pixelsFromJson(px(3), 3), 'string');
  t.is(typeof pixelsFromJson([[[1, 'a'], [1, 1]], [[0, 0], [0, 0]], [[1, 1], [1, 1]]], 2), 'string');
});

test('embed-images CLI on the tiny model: golden features for image.png and the pixel inputs; exit 2 on a bad model folder', async (t) => {
  const golden = JSON.parse(readFileSync(join(FIXTURE, 'golden.json'), 'utf8')) as {
    image: { pixels: number[][][][]; features: number[][] };
    preprocess: { 'features_targetpad_1.25': number[]; features_plain: number[] };
  };
  const dir = tempDir('embcli');
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, [
    JSON.stringify({ path: join(FIXTURE, 'image.png') }),
    JSON.stringify({ path: join(dir, 'missing.png') }),
    ...golden.image.pixels.map((p) => JSON.stringify({ pixels: p })),
  ].join('\n'));
  const env = { ...process.env, STARWORD_CACHE_DIR: join(dir, 'cache') };
  const { stdout } = await run('bash', ['-c', `node bin/starword.js embed-images --model "${join(FIXTURE, 'model')}" < "${input}"`], { cwd: ROOT, env });
  const out = stdout.trim().split('\n').map((l) => JSON.parse(l) as { features?: number[]; error?: string; path?: string });
  t.is(out.length, 4);
  const relErr = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / Math.max(...b.map(Math.abs));
  t.true(relErr(out[0].features!, golden.preprocess['features_targetpad_1.25']) < 1e-4);
  t.is(out[1].path, join(dir, 'missing.png'));
  t.regex(out[1].error!, /missing\.png/);
  t.true(relErr(out[2].features!, golden.image.features[0]) < 1e-4);
  t.true(relErr(out[3].features!, golden.image.features[1]) < 1e-4);

  const { stdout: plain } = await run('bash', ['-c', `node bin/starword.js embed-images --preprocess plain --model "${join(FIXTURE, 'model')}" < "${input}" | head -1`], { cwd: ROOT, env });
  t.true(relErr((JSON.parse(plain) as { features: number[] }).features, golden.preprocess.features_plain) < 1e-4);

  const bad = await run('node', ['bin/starword.js', 'embed-images', '--model', join(dir, 'nope')], { cwd: ROOT, env }).catch((e: { code: number; stderr: string }) => e);
  t.is((bad as { code: number }).code, 2);
  t.is((bad as { stderr: string }).stderr.trim().split('\n').length, 1);
});
