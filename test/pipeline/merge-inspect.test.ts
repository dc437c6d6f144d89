import test from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { formatReport, inspectRun } from '../../pipeline/inspect-run.ts';
import { findRunDirs, mergeRuns } from '../../pipeline/merge-runs.ts';
import { CORPUS_FILE, type CorpusIndex } from '../../pipeline/corpus.ts';
import { type RunRequest, finishStage, openRunManifest } from '../../pipeline/run-manifest.ts';
import { shardRunDir } from '../../pipeline/sharding.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as features from '../../schemas/features.ts';
import * as images from '../../schemas/images.ts';
import * as concepts from '../../schemas/concepts.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { conceptShardOf, parseConceptShard, unionConcepts } from '../../pipeline/concept-union.ts';
import * as tokens from '../../schemas/tokens.ts';
import { checkPart, partPaths, readPart, readPartStats, writePart } from '../../schemas/part-io.ts';
import { readPlan, stageDir } from '../../schemas/run-layout.ts';
import { runEmbed } from '../../stages/embed/index.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { SUMMARY_FILE } from '../../stages/phrases/run-phrases.ts';
import { FakeImageEncoder, makeImageFolder, tempDir } from '../embed/helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const popts = preprocessOptions({ imageSize: 8 });
const request = (index: number, count: number, steps = 3): RunRequest => ({
  config: { partSize: 3, oti: { steps } }, model: { dir: 'fake', hash: 'fake' }, sources: {}, seeds: { oti: 0 }, shard: { index, count },
});

/** ingest + embed (+ a stand-in tokens part per features part, losses from the features) for one shard. */
async function runShard(imgs: string, out: string, index: number, count: number): Promise<string> {
  const runDir = shardRunDir(out, { index, count });
  openRunManifest(runDir, request(index, count));
  const ing = await runIngest({ source: imgs, runDir, shard: { index, count }, partSize: 3 });
  finishStage(runDir, 'ingest', { seconds: ing.seconds, counts: { images: ing.plan.images } });
  const s = await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: (p) => preprocessImage(p, popts), batchSize: 2 });
  finishStage(runDir, 'embed', { seconds: s.seconds, counts: { embedded: s.embedded, failed: s.failed } });
  const plan = readPlan(runDir)!;
  for (let p = 0; p < plan.parts; p++) {
    const feats = features.fromTable(readPart(stageDir(runDir, 'embed'), features.KIND, p)).rows;
    const rows: tokens.TokenRow[] = feats.map((f, i) => ({
      imageId: f.imageId, token: f.features.slice(0, 2), ema: f.features.slice(0, 2), lcos: f.features[3], lgpt: 0.5,
      steps: 3, seed: i, status: i === 1 ? 'failed' : 'ok', error: i === 1 ? 'NaN in OTI' : null,
    }));
    await writePart(stageDir(runDir, 'oti'), tokens.KIND, p, tokens.toTable(rows, 2), SCHEMA_VERSION);
  }
  return runDir;
}

async function fixture(): Promise<{ imgs: string; root: string }> {
  const root = tempDir('merge');
  const imgs = join(root, 'imgs');
  await makeImageFolder(imgs, 10);
  return { imgs, root };
}

function featureRows(runDirs: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const dir of runDirs) {
    for (let p = 0; p < readPlan(dir)!.parts; p++) {
      for (const r of features.fromTable(readPart(stageDir(dir, 'embed'), features.KIND, p)).rows) out.set(r.imageId, Array.from(r.features));
    }
  }
  return out;
}

test('two shards merge; the union equals the unsharded run', async (t) => {
  const { imgs, root } = await fixture();
  const out = join(root, 'sharded');
  await runShard(imgs, out, 1, 2);
  await runShard(imgs, out, 0, 2);
  const single = await runShard(imgs, join(root, 'single'), 0, 1);
  const corpus = join(out, 'corpus');
  const merged = await mergeRuns(findRunDirs(out), corpus);
  t.is(merged.shardCount, 2);
  t.is(merged.images, 13);
  t.is(merged.rows['embed/features'], 10);
  t.is(merged.rows['embed/errors'], 3);
  t.deepEqual(merged.shards.map((s) => s.index), [0, 1]);
  const onDisk = JSON.parse(readFileSync(join(corpus, CORPUS_FILE), 'utf8')) as CorpusIndex;
  t.deepEqual(onDisk.kinds['oti/tokens'].map((p) => p.shard), merged.kinds['oti/tokens'].map((p) => p.shard));
  // paths in the index are relative to the corpus and point at the shards' parts
  const first = onDisk.kinds['embed/features'][0];
  t.is(features.fromTable(readPart(join(corpus, first.from, '..'), features.KIND, first.shardPart)).rows.length, first.rows);
  // the corpus is one run folder: its plan covers every image, its parts are the shards' in order
  t.deepEqual(findRunDirs(corpus), [corpus]);
  t.is(readPlan(corpus)!.images, 13);
  t.deepEqual(featureRows([corpus]), featureRows(findRunDirs(out)));
  t.is(readPartStats(stageDir(corpus, 'embed'), features.KIND, 1).part, 1);
  // the corpus' markers are sealed anew with their corpus index: every part passes the full check
  for (const [key, list] of Object.entries(merged.kinds)) {
    const [stage, kind] = key.split('/');
    for (const p of list) t.is(checkPart(join(corpus, stage), kind, p.part, { level: 'full' }), 'ok', `${key} ${p.part}`);
  }
  const report = inspectRun(corpus);
  t.is(report.runs, 1);
  t.deepEqual(report.images, { source: 13, planned: 13 });
  t.is(report.parts['embed/features'].rows, 10);
  t.is(report.failures.total, 3);
  t.is(merged.placed.copied, 0);
  t.true(merged.placed.linked > 0);

  const union = featureRows(findRunDirs(out));
  const whole = featureRows([single]);
  t.deepEqual([...union.keys()].sort(), [...whole.keys()].sort());
  for (const [id, v] of whole) t.deepEqual(union.get(id), v, id);

  // `merge --runs a b --out c` does the same, and the single run merges as one shard
  t.is((await mergeRuns([shardRunDir(out, { index: 0, count: 2 }), shardRunDir(out, { index: 1, count: 2 })], join(root, 'idx'))).images, 13);
  t.is((await mergeRuns(findRunDirs(single), join(single, 'corpus'))).shardCount, 1);
  // merging again changes nothing; --copy places copies
  t.true((await mergeRuns(findRunDirs(out), corpus)).kept);
  const copied = await mergeRuns(findRunDirs(out), join(root, 'copied'), { copy: true });
  t.is(copied.placed.linked, 0);
  t.deepEqual(featureRows([join(root, 'copied')]), featureRows(findRunDirs(out)));
});

test('merge refuses a missing shard, an unfinished part, a mixed config, a duplicated shard', async (t) => {
  const { imgs, root } = await fixture();
  const out = join(root, 'run');
  const d0 = await runShard(imgs, out, 0, 2);
  await t.throwsAsync(mergeRuns(findRunDirs(out), join(out, 'corpus')), { message: /cannot merge: shard 1 of 2 missing/ });
  const d1 = await runShard(imgs, out, 1, 2);

  const stats = partPaths(stageDir(d1, 'embed'), features.KIND, 0).stats;
  renameSync(stats, `${stats}.bak`);
  await t.throwsAsync(mergeRuns(findRunDirs(out), join(out, 'corpus')), { message: /shard 1: embed\/features part 0 not done/ });
  renameSync(`${stats}.bak`, stats);

  openRunManifest(d1, request(1, 2, 99), true);
  await t.throwsAsync(mergeRuns(findRunDirs(out), join(out, 'corpus')), { message: /config fingerprint/ });
  openRunManifest(d1, request(1, 2), true);

  cpSync(d0, join(root, 'copy'), { recursive: true });
  await t.throwsAsync(mergeRuns([d0, join(root, 'copy'), d1], join(out, 'corpus')), { message: /shard 0 appears twice/ });
  rmSync(join(root, 'copy'), { recursive: true });
  await t.notThrowsAsync(mergeRuns(findRunDirs(out), join(out, 'corpus')));

  // an image planned into the wrong shard (shard 0's first image added to shard 1's first part)
  const ingest1 = stageDir(d1, 'ingest');
  const stolen = images.fromTable(readPart(stageDir(d0, 'ingest'), images.KIND, 0))[0];
  const part = images.fromTable(readPart(ingest1, images.KIND, 0));
  await writePart(ingest1, images.KIND, 0, images.toTable([...part, { ...stolen, shard: 1 }]), SCHEMA_VERSION,
    { partHash: readPartStats(ingest1, images.KIND, 0).partHash });
  const err = await t.throwsAsync(mergeRuns(findRunDirs(out), join(out, 'corpus')));
  t.regex(err!.message, new RegExp(`image '${stolen.imageId}' is in shards 0 and 1`));
  t.regex(err!.message, /belongs to shard 0/);
});

test('inspect: counts per stage, failure histogram, loss distribution, timings', async (t) => {
  const { imgs, root } = await fixture();
  const out = join(root, 'run');
  await runShard(imgs, out, 0, 2);
  await runShard(imgs, out, 1, 2);
  const r = inspectRun(out);
  t.is(r.runs, 2);
  t.deepEqual(r.images, { source: 13, planned: 13 });
  t.is(r.parts['embed/features'].rows, 10);
  t.is(r.parts['embed/features'].done, r.parts['embed/features'].planned);
  t.is(r.failures.total, 3);
  t.is(r.failures.byCode.empty, 1);
  t.deepEqual(r.failures.byStage, { embed: 3 });
  t.truthy(r.tokens);
  const okLcos: number[] = [];
  let failed = 0;
  for (const dir of findRunDirs(out)) {
    for (let p = 0; p < readPlan(dir)!.parts; p++) {
      for (const row of tokens.fromTable(readPart(stageDir(dir, 'oti'), tokens.KIND, p)).rows) {
        if (row.status === 'ok') okLcos.push(row.lcos); else failed++;
      }
    }
  }
  okLcos.sort((a, b) => a - b);
  t.is(r.tokens!.ok, okLcos.length);
  t.is(r.tokens!.failed, failed);
  t.is(r.tokens!.lcos!.min, okLcos[0]);
  t.is(r.tokens!.lcos!.max, okLcos[okLcos.length - 1]);
  t.is(r.tokens!.lcos!.median, okLcos[Math.ceil(okLcos.length / 2) - 1]);
  t.is(r.tokens!.lgpt!.median, 0.5);
  t.true(r.timings.stages.embed > 0);
  t.deepEqual(Object.keys(r.timings.phases['embed/features']).sort(), ['compute_s', 'read_s', 'write_s']);
  const text = formatReport(r);
  t.regex(text, /failures: 3/);
  t.regex(text, /lcos: min/);
});

test('merge and inspect CLIs: one-line output, exit 2 on bad arguments', async (t) => {
  const { imgs, root } = await fixture();
  const out = join(root, 'run');
  await runShard(imgs, out, 0, 2);
  await runShard(imgs, out, 1, 2);
  const run = promisify(execFile);
  const merged = await run('node', ['bin/starword.js', 'merge', out], { cwd: ROOT });
  t.regex(merged.stdout, /^merged 2 shards, 13 images: .*embed\/features 10 rows.* -> .*corpus; \d+ files linked/);
  const insp = await run('node', ['bin/starword.js', 'inspect', out, '--json'], { cwd: ROOT });
  t.is((JSON.parse(insp.stdout) as { failures: { total: number } }).failures.total, 3);
  const bad = await run('node', ['bin/starword.js', 'merge', '--runs', out], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
  t.is((bad as { code: number }).code, 2);
  t.regex((bad as { stderr: string }).stderr, /--runs needs --out/);
  const notRun = await run('node', ['bin/starword.js', 'inspect', imgs], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
  t.is((notRun as { code: number }).code, 2);
});

/** A concepts part per ingest part: each image's "concepts" are made-up names from its id. */
async function addConcepts(runDir: string): Promise<void> {
  const plan = readPlan(runDir)!;
  for (let p = 0; p < plan.parts; p++) {
    const rows = images.fromTable(readPart(stageDir(runDir, 'ingest'), images.KIND, p))
      .map((r) => ({ imageId: r.imageId, concepts: [`c-${r.imageId}`, 'shared', `d-${r.imageId}`], scores: Float32Array.of(0.3, 0.2, 0.1) }));
    await writePart(stageDir(runDir, 'concepts'), concepts.KIND, p, concepts.toTable(rows), SCHEMA_VERSION);
  }
}

test('phrases --concepts-from: the sorted union of the shards\' top-k, split by --concept-shard; unfinished or missing shards refused', async (t) => {
  const { imgs, root } = await fixture();
  const out = join(root, 'run');
  const d0 = await runShard(imgs, out, 0, 2);
  await addConcepts(d0);
  t.throws(() => unionConcepts([out], 2), { message: /shard 1 of 2 missing/ });
  const d1 = await runShard(imgs, out, 1, 2);
  t.throws(() => unionConcepts([out], 2), { message: /shard-00001-of-00002: concepts part 0 is not finished/ });
  await addConcepts(d1);
  const union = unionConcepts([out], 2);
  t.is(union.runs, 2);
  const planned = [d0, d1].flatMap((d) => Array.from({ length: readPlan(d)!.parts }, (_, p) => images.fromTable(readPart(stageDir(d, 'ingest'), images.KIND, p)).map((r) => r.imageId)).flat());
  t.deepEqual(union.concepts, ['shared', ...planned.map((id) => `c-${id}`)].sort());
  t.deepEqual(unionConcepts([d1, d0], 2).concepts, union.concepts, 'listing order does not matter');
  const parts = [0, 1, 2].map((i) => conceptShardOf(union.concepts, parseConceptShard(`${i}/3`)));
  t.deepEqual(parts.flat().sort(), union.concepts);
  t.throws(() => parseConceptShard('3/3'), { message: /--concept-shard 3\/3: the index must be in 0..2/ });
  t.throws(() => parseConceptShard('1-3'), { message: /must look like i\/n/ });
});

test('merge: one phrases folder for the corpus; shards with their own phrases are refused', async (t) => {
  const { imgs, root } = await fixture();
  const out = join(root, 'run');
  const dirs = [await runShard(imgs, out, 0, 2), await runShard(imgs, out, 1, 2)];
  const row = (concept: string) => ({ concept, phrase: `a ${concept}`, swapped: ' $ ', backend: 'templates', model: 'x', paramsHash: 'h' });
  for (const [i, d] of dirs.entries()) await writePart(stageDir(d, 'phrases'), phrasesSchema.KIND, 0, phrasesSchema.toTable([row(`own-${i}`)]), SCHEMA_VERSION);
  await t.throwsAsync(mergeRuns(dirs, join(out, 'corpus'), {}, out), { message: /2 shards made their own phrases, which would be duplicated/ });
  // the run's one phrases folder (as `phrases --concepts-from` makes it) is what the corpus gets
  await writePart(join(out, 'phrases'), phrasesSchema.KIND, 0, phrasesSchema.toTable([row('shared')]), SCHEMA_VERSION);
  const c = await mergeRuns(dirs, join(out, 'corpus'), {}, out);
  t.is(c.phrases?.from, '../phrases');
  t.deepEqual(phrasesSchema.fromTable(readPart(join(out, 'corpus', 'phrases'), phrasesSchema.KIND, 0)).rows.map((r) => r.concept), ['shared']);
  await t.throwsAsync(mergeRuns(dirs, join(out, 'c2'), { phrases: join(root, 'nowhere') }, out), { message: /--phrases .*nowhere: no such folder/ });
  // a phrases rerun that reused every part rewrites only its summary: the corpus (and a phi in it) is kept;
  // a rewritten part rebuilds it
  writeFileSync(join(out, 'phrases', SUMMARY_FILE), '{"requests": 0, "partsReused": 1}\n');
  t.true((await mergeRuns(dirs, join(out, 'corpus'), {}, out)).kept);
  await writePart(join(out, 'phrases'), phrasesSchema.KIND, 0, phrasesSchema.toTable([row('shared'), row('other')]), SCHEMA_VERSION);
  const rebuilt = await mergeRuns(dirs, join(out, 'corpus'), {}, out);
  t.false(rebuilt.kept);
  t.is(phrasesSchema.fromTable(readPart(join(out, 'corpus', 'phrases'), phrasesSchema.KIND, 0)).rows.length, 2);
});
