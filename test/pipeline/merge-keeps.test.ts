/**
 * `merge` never deletes what it did not make: a corpus rebuild keeps a trained phi/ (phi's default
 * output), checkpoints and any other folder that merge did not write there; and a killed merge's build
 * folders are cleaned up by the next merge.
 */
import test from 'ava';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { mergeRuns } from '../../pipeline/merge-runs.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as features from '../../schemas/features.ts';
import { readPart, writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { runEmbed } from '../../stages/embed/index.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { hostTag } from '../../util/temp-name.ts';
import { FakeImageEncoder, makeImageFolder, tempDir } from '../embed/helpers.ts';

const popts = preprocessOptions({ imageSize: 8 });

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

async function oneRun(root: string): Promise<string> {
  const imgs = join(root, 'imgs');
  await makeImageFolder(imgs, 4);
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, shard: { index: 0, count: 1 }, partSize: 3 });
  await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: (p) => preprocessImage(p, popts), batchSize: 2 });
  return runDir;
}

test('a corpus rebuild keeps phi/, checkpoints and other folders merge did not make, and says so', async (t) => {
  const root = tempDir('merge-keeps');
  const runDir = await oneRun(root);
  const corpus = join(root, 'corpus');
  const first = await mergeRuns([runDir], corpus);
  t.false(first.kept);
  // phi trained on the corpus, and a user's notes
  mkdirSync(join(corpus, 'phi', 'checkpoints'), { recursive: true });
  writeFileSync(join(corpus, 'phi', 'phi.safetensors'), 'trained');
  writeFileSync(join(corpus, 'phi', 'checkpoints', 'epoch-00001.safetensors'), 'ckpt');
  mkdirSync(join(corpus, 'pic2word'));
  writeFileSync(join(corpus, 'pic2word', 'pic2word.onnx'), 'p2w');
  // the shard's features part redone (other content): the corpus must be rebuilt
  const embedDir = stageDir(runDir, 'embed');
  const rows = features.fromTable(readPart(embedDir, features.KIND, 0)).rows.map((r) => ({ ...r, features: r.features.map((x) => x + 1) }));
  await writePart(embedDir, features.KIND, 0, features.toTable(rows, rows[0].features.length), SCHEMA_VERSION);
  const second = await mergeRuns([runDir], corpus);
  t.false(second.kept, 'rebuilt');
  t.deepEqual(second.keptEntries, ['phi', 'pic2word']);
  t.is(readFileSync(join(corpus, 'phi', 'phi.safetensors'), 'utf8'), 'trained');
  t.is(readFileSync(join(corpus, 'phi', 'checkpoints', 'epoch-00001.safetensors'), 'utf8'), 'ckpt');
  t.is(readFileSync(join(corpus, 'pic2word', 'pic2word.onnx'), 'utf8'), 'p2w');
  const merged = features.fromTable(readPart(stageDir(corpus, 'embed'), features.KIND, 0)).rows;
  t.deepEqual(Array.from(merged[0].features), Array.from(rows[0].features), 'the corpus holds the new parts');
  t.deepEqual(readdirSync(dirname(corpus)).filter((n) => n.startsWith(`${basename(corpus)}.`)), [], 'no build or trash folder left');
});

test('build folders of killed merges are removed by the next merge; a live one is left alone', async (t) => {
  const root = tempDir('merge-killed');
  const runDir = await oneRun(root);
  const corpus = join(root, 'corpus');
  const dead = deadPid();
  const stale = [`corpus.building-${hostname()}-${dead}-0a1b2c3d`, `corpus.building-${hostname()}-${dead}-0a1b2c3d.old`, `corpus.tmp-${hostTag()}-${dead}-00ff00ff00ff`];
  const live = `corpus.tmp-${hostTag()}-${process.ppid}-abcdefabcdef`;
  for (const n of [...stale, live]) { mkdirSync(join(root, n, 'embed'), { recursive: true }); writeFileSync(join(root, n, 'embed', 'x.arrow'), 'x'); }
  await mergeRuns([runDir], corpus);
  const left = readdirSync(root).filter((n) => n.startsWith('corpus.'));
  t.deepEqual(left, [live]);
});
