/**
 * A stage's record in run.json adds up over resumes: a resume that finds its parts done (seconds ≈ 0,
 * nothing embedded now) keeps the time and the work of the sessions before it, so the report's
 * throughput stays right; totals (parts, images) are the latest session's.
 */
import test from 'ava';
import { finishStage, openRunManifest, readRunManifest, startStage } from '../../pipeline/run-manifest.ts';
import { PIPELINE } from '../../pipeline/run-pipeline.ts';
import { embedStage } from '../../stages/embed/stage.ts';
import { tempDir } from '../embed/helpers.ts';

test('stage seconds and the work done now accumulate over resumes; totals are replaced', (t) => {
  const dir = tempDir('stage-times');
  openRunManifest(dir, { config: {}, model: null, sources: {}, seeds: {}, shard: { index: 0, count: 1 } });
  startStage(dir, 'embed');
  finishStage(dir, 'embed', { seconds: 12, counts: { embedded: 20, failed: 1, parts: 3, partsSkipped: 0 }, resumedCounts: embedStage.resumedCounts });
  // killed on the way: the stage is 'running' with the time of the sessions that finished
  startStage(dir, 'embed');
  t.is(readRunManifest(dir)!.stages.embed.status, 'running');
  t.is(readRunManifest(dir)!.stages.embed.seconds, 12);
  finishStage(dir, 'embed', { seconds: 6, counts: { embedded: 9, failed: 0, parts: 3, partsSkipped: 2 }, resumedCounts: embedStage.resumedCounts });
  // everything done already
  startStage(dir, 'embed');
  finishStage(dir, 'embed', { seconds: 0.01, counts: { embedded: 0, failed: 0, parts: 3, partsSkipped: 3 }, resumedCounts: embedStage.resumedCounts });
  const rec = readRunManifest(dir)!.stages.embed;
  t.is(rec.status, 'done');
  t.is(rec.seconds, 18.01);
  t.deepEqual(rec.counts, { embedded: 29, failed: 1, parts: 3, partsSkipped: 3 });
  t.is(rec.sessions, 3);
});

test('which counts add up is the stage declaration\'s: a stage run.json has never heard of sums what it declares', (t) => {
  const dir = tempDir('stage-times-declared');
  openRunManifest(dir, { config: {}, model: null, sources: {}, seeds: {}, shard: { index: 0, count: 1 } });
  const declared = { resumedCounts: ['captioned'] };
  finishStage(dir, 'captions', { seconds: 2, counts: { captioned: 5, images: 8 }, ...declared });
  finishStage(dir, 'captions', { seconds: 1, counts: { captioned: 3, images: 8 }, ...declared });
  t.deepEqual(readRunManifest(dir)!.stages.captions.counts, { captioned: 8, images: 8 });
});

test('the stages of run declare the work counts the old table in run-manifest.ts summed (the move changed nothing)', (t) => {
  const expected: Record<string, string[]> = { embed: ['embedded', 'failed'], concepts: ['written'], phrases: ['requests'], oti: ['ok', 'failed'], phi: ['epochsRunNow'] };
  for (const def of PIPELINE) t.deepEqual([...(def.resumedCounts ?? [])], expected[def.name] ?? [], def.name);
});
