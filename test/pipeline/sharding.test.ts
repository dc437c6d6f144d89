import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as images from '../../schemas/images.ts';
import { readPart } from '../../schemas/part-io.ts';
import { readPlan, stageDir } from '../../schemas/run-layout.ts';
import { resolveShard, shardRunDir } from '../../pipeline/sharding.ts';
import { runIngest, shardOf } from '../../stages/ingest/index.ts';
import { tempDir } from '../embed/helpers.ts';

test('every image lands in exactly one shard, for 1 to 5 shards', async (t) => {
  const root = tempDir('shards');
  const imgs = join(root, 'imgs');
  mkdirSync(join(imgs, 'd'), { recursive: true });
  const all = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? `d/x${i}.jpg` : `x${i}.png`)).sort();
  for (const id of all) writeFileSync(join(imgs, id), 'x');
  for (let count = 1; count <= 5; count++) {
    const seen: string[] = [];
    for (let index = 0; index < count; index++) {
      const runDir = shardRunDir(join(root, `run${count}`), { index, count });
      const { plan } = await runIngest({ source: imgs, runDir, shard: { index, count }, partSize: 4 });
      t.is(plan.sourceImages, 40);
      for (let p = 0; p < plan.parts; p++) {
        for (const r of images.fromTable(readPart(stageDir(runDir, 'ingest'), images.KIND, p))) {
          t.is(r.shard, index);
          t.is(shardOf(r.imageId, count), index);
          seen.push(r.imageId);
        }
      }
    }
    t.deepEqual([...seen].sort(), all, `count ${count}`);
    if (count > 1) t.true(readPlan(shardRunDir(join(root, `run${count}`), { index: 0, count }))!.images < 40);
  }
});

test('shardOf is stable (fixed values) and spreads ids', (t) => {
  t.is(shardOf('a.png', 1), 0);
  // sha256('a.png') starts 7f071235 (2131169845): mod 3 = 1, mod 8 = 5, mod 9 = 4. A change here would
  // reshuffle every sharded run.
  t.deepEqual([3, 8, 9].map((n) => shardOf('a.png', n)), [1, 5, 4]);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[shardOf(`img${i}.jpg`, 4)]++;
  for (const c of counts) t.true(c > 850 && c < 1150, String(counts));
});

test('resolveShard: flags, Kubernetes and Slurm defaults', (t) => {
  t.deepEqual(resolveShard({}, {}), { index: 0, count: 1 });
  t.deepEqual(resolveShard({ shardIndex: '2', shardCount: '4' }, {}), { index: 2, count: 4 });
  t.deepEqual(resolveShard({ shardCount: 8 }, { JOB_COMPLETION_INDEX: '5' }), { index: 5, count: 8 });
  t.deepEqual(resolveShard({}, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 3, count: 4 });
  t.deepEqual(resolveShard({}, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }), { index: 3, count: 4 });
  // flags win over the environment
  t.deepEqual(resolveShard({ shardIndex: '0', shardCount: '2' }, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' }), { index: 0, count: 2 });
  t.deepEqual(resolveShard({ shardCount: '1' }, {}), { index: 0, count: 1 });
});

test('resolveShard: one-line errors', (t) => {
  const bad: [Parameters<typeof resolveShard>[0], NodeJS.ProcessEnv, RegExp][] = [
    [{}, { JOB_COMPLETION_INDEX: '1' }, /JOB_COMPLETION_INDEX is set .* pass --shard-count/],
    [{ shardIndex: '1' }, {}, /--shard-index needs --shard-count/],
    [{ shardCount: '3' }, {}, /--shard-count 3 needs --shard-index/],
    [{ shardIndex: '3', shardCount: '3' }, {}, /--shard-index 3 is out of range for 3 shards/],
    [{ shardIndex: '-1', shardCount: '3' }, {}, /--shard-index must be a non-negative integer/],
    [{ shardIndex: '0', shardCount: '0' }, {}, /--shard-count must be at least 1/],
    [{}, { SLURM_ARRAY_TASK_ID: '2' }, /SLURM_ARRAY_TASK_COUNT is not/],
    [{}, { SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '2' }, /SLURM_ARRAY_TASK_ID must be/],
    [{ shardCount: '4' }, { JOB_COMPLETION_INDEX: '4' }, /JOB_COMPLETION_INDEX 4 is out of range/],
  ];
  for (const [flags, env, re] of bad) {
    const err = t.throws(() => resolveShard(flags, env));
    t.regex(err!.message, re);
    t.false(err!.message.includes('\n'));
  }
});

test('shardRunDir: sharded runs write into shard-i-of-N subfolders', (t) => {
  t.is(shardRunDir('/o', { index: 0, count: 1 }), '/o');
  t.is(shardRunDir('/o', { index: 2, count: 12 }), join('/o', 'shard-00002-of-00012'));
});
