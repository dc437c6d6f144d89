import test from 'ava';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import * as errors from '../../schemas/errors.ts';
import * as features from '../../schemas/features.ts';
import { partPaths, readPart, readPartStats } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { runEmbed } from '../../stages/embed/index.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { FakeImageEncoder, makeImageFolder, tempDir } from './helpers.ts';

const popts = preprocessOptions({ imageSize: 8, mode: 'targetpad' });

function countingPreprocess(): { fn: (p: string) => Promise<Float32Array>; paths: string[] } {
  const paths: string[] = [];
  return { paths, fn: (p: string) => { paths.push(p); return preprocessImage(p, popts); } };
}

async function setup(partSize = 4): Promise<{ runDir: string; good: string[]; bad: string[] }> {
  const root = tempDir('embed');
  const imgs = join(root, 'images');
  const { good, bad } = await makeImageFolder(imgs, 10);
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, partSize });
  return { runDir, good, bad };
}

function allRows(runDir: string, parts: number): { feats: features.FeatureRow[]; errs: errors.ErrorRow[] } {
  const dir = stageDir(runDir, 'embed');
  const feats: features.FeatureRow[] = [];
  const errs: errors.ErrorRow[] = [];
  for (let p = 0; p < parts; p++) {
    feats.push(...features.fromTable(readPart(dir, features.KIND, p)).rows);
    errs.push(...errors.fromTable(readPart(dir, errors.KIND, p)));
  }
  return { feats, errs };
}

test('embed: good images get features, corrupt / zero-byte / non-image files land in the errors parts', async (t) => {
  const { runDir, good, bad } = await setup();
  const encoder = new FakeImageEncoder();
  const pre = countingPreprocess();
  const summary = await runEmbed({ runDir, imageEncoder: encoder, preprocess: pre.fn, batchSize: 3, concurrency: 2 });
  t.is(summary.parts, 4); // 13 files in parts of 4
  t.is(summary.images, 13);
  t.is(summary.embedded, 10);
  t.is(summary.failed, 3);
  const { feats, errs } = allRows(runDir, 4);
  t.deepEqual(feats.map((f) => f.imageId).sort(), good);
  t.deepEqual(errs.map((e) => e.imageId).sort(), bad);
  const codes = Object.fromEntries(errs.map((e) => [e.imageId, e.code]));
  t.is(codes['empty.jpg'], 'empty');
  t.not(codes['notes.png'], 'error');
  t.not(codes['corrupt.png'], 'error');
  for (const e of errs) {
    t.is(e.stage, 'embed');
    t.false(e.reason.includes('\n'));
  }
  // features are exactly what the encoder gives for the preprocessed image
  const one = feats.find((f) => f.imageId === good[0])!;
  const [expected] = await new FakeImageEncoder().encodePixels([await preprocessImage(join(runDir, '..', 'images', good[0]), popts)]);
  t.deepEqual(Array.from(one.features), Array.from(expected));
  // per-part timings in the stats marker, and rows + failures = input rows
  const stats = readPartStats(stageDir(runDir, 'embed'), features.KIND, 0);
  for (const k of ['read_s', 'compute_s', 'write_s']) t.is(typeof stats[k], 'number', k);
  t.is(Number(stats.inputRows), 4);
  t.is(stats.rows + Number(stats.failed), 4);
  t.true(encoder.calls >= 4);
});

test('embed: a rerun skips done parts, and redoes a part whose stats marker is missing', async (t) => {
  const { runDir } = await setup();
  await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: countingPreprocess().fn, batchSize: 4 });
  const dir = stageDir(runDir, 'embed');
  const before = readFileSync(partPaths(dir, features.KIND, 2).arrow);

  const again = countingPreprocess();
  const s2 = await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: again.fn, batchSize: 4 });
  t.is(s2.partsSkipped, 4);
  t.is(again.paths.length, 0);

  // a crash after the arrow file but before the marker: only that part is redone, to the same bytes
  rmSync(partPaths(dir, features.KIND, 2).stats);
  const third = countingPreprocess();
  const s3 = await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: third.fn, batchSize: 4 });
  t.is(s3.partsSkipped, 3);
  t.is(s3.processed, 4);
  t.is(third.paths.length, 4);
  t.deepEqual(readFileSync(partPaths(dir, features.KIND, 2).arrow), before);
  t.true(existsSync(partPaths(dir, features.KIND, 2).stats));
});

test('embed: non-finite features are recorded as failures', async (t) => {
  const { runDir } = await setup(20);
  const pixelCount = 3 * 8 * 8;
  const preprocess = async (p: string): Promise<Float32Array> => {
    if (p.endsWith('img1.png')) return new Float32Array(pixelCount).fill(Number.NaN);
    return preprocessImage(p, popts);
  };
  const s = await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess, batchSize: 5 });
  t.is(s.failed, 4);
  const { errs } = allRows(runDir, 1);
  t.is(errs.find((e) => e.imageId === 'img1.png')?.code, 'non-finite');
  // errors listed in plan (id) order
  t.deepEqual(errs.map((e) => e.imageId), [...errs.map((e) => e.imageId)].sort());
});

test('embed: an encoder failure stops the stage and leaves the part unfinished', async (t) => {
  const { runDir } = await setup();
  const encoder = new FakeImageEncoder();
  let n = 0;
  const failing = { dim: encoder.dim, imageSize: encoder.imageSize, encodePixels: async (px: Float32Array[]) => {
    if (++n === 3) throw new Error('device lost');
    return encoder.encodePixels(px);
  } };
  await t.throwsAsync(runEmbed({ runDir, imageEncoder: failing, preprocess: countingPreprocess().fn, batchSize: 4 }), { message: 'device lost' });
  const dir = stageDir(runDir, 'embed');
  t.true(existsSync(partPaths(dir, features.KIND, 1).stats));
  t.false(existsSync(partPaths(dir, features.KIND, 2).stats));
  const s = await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: countingPreprocess().fn, batchSize: 4 });
  t.is(s.partsSkipped, 2);
});

test('embed: refuses a run folder without an ingest plan', async (t) => {
  await t.throwsAsync(runEmbed({ runDir: tempDir('noplan'), imageEncoder: new FakeImageEncoder(), preprocess: countingPreprocess().fn }),
    { message: /no ingest plan/ });
});

test('embed: after a forced replan, parts computed from the old plan are redone', async (t) => {
  const root = tempDir('replan');
  const imgs = join(root, 'images');
  await makeImageFolder(imgs, 6);
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, partSize: 4 });
  await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: countingPreprocess().fn });
  rmSync(join(imgs, 'corrupt.png')); // the first part's contents shift, the others keep their place or go
  await runIngest({ source: imgs, runDir, partSize: 4, force: true });
  const again = countingPreprocess();
  const s = await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: again.fn });
  t.is(s.parts, 2);
  t.is(s.partsSkipped, 0);
  t.is(s.processed, 8);
  t.false(again.paths.some((p) => p.endsWith('corrupt.png')));
});
