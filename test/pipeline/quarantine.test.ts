/**
 * Same-size damage (a flipped byte: the size still matches the marker) is caught by the content hash:
 * reading it quarantines the part (moved aside as `<part>.damaged-<time>`, marker removed) so the stage
 * that writes it redoes it; a stage's own resume checks content too, so a plain rerun redoes it and ends
 * with the right data.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocessImage, preprocessOptions } from '../../clip/image/preprocess.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as features from '../../schemas/features.ts';
import { isPartCurrent, partPaths, readPart, writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { runEmbed } from '../../stages/embed/index.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { UserError } from '../../util/errors.ts';
import { mergeRuns } from '../../pipeline/merge-runs.ts';
import { FakeImageEncoder, makeImageFolder, tempDir } from '../embed/helpers.ts';

const popts = preprocessOptions({ imageSize: 8 });

/** Flips one byte in the middle of the file: same size, other content. */
function flipByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(file, bytes);
}

test('readPart quarantines a part whose content hash fails: moved aside, marker removed, one line naming both', async (t) => {
  const dir = tempDir('quarantine-read');
  const rows = Array.from({ length: 4 }, (_, i) => ({ imageId: `img-${i}`, features: Float32Array.of(i, i + 1, i + 2) }));
  await writePart(dir, features.KIND, 0, features.toTable(rows, 3), SCHEMA_VERSION, { dim: 3 });
  const paths = partPaths(dir, features.KIND, 0);
  flipByte(paths.arrow);
  const err = t.throws(() => readPart(dir, features.KIND, 0), { instanceOf: UserError });
  t.regex(err!.message, /features-00000\.arrow: damaged: its content differs from the sha256 in its marker; moved aside to .*features-00000\.arrow\.damaged-\S+; rerun the stage that writes it to redo it$/);
  t.false(existsSync(paths.stats), 'the marker is gone: the part is not done any more');
  t.false(existsSync(paths.arrow));
  t.is(readdirSync(dir).filter((n) => n.includes('.damaged-')).length, 1);
  // a reader that only looks (inspect, report) leaves the part where it is
  await writePart(dir, features.KIND, 1, features.toTable(rows, 3), SCHEMA_VERSION, { dim: 3 });
  flipByte(partPaths(dir, features.KIND, 1).arrow);
  t.throws(() => readPart(dir, features.KIND, 1, { quarantine: false }), { message: /content differs/ });
  t.true(existsSync(partPaths(dir, features.KIND, 1).stats));
});

test('a stage\'s done-check reads content: a one-byte flip in a finished part is redone by a plain rerun, with the right data', async (t) => {
  const root = tempDir('quarantine-embed');
  const imgs = join(root, 'imgs');
  await makeImageFolder(imgs, 6);
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, shard: { index: 0, count: 1 }, partSize: 3 });
  const embed = () => runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: (p) => preprocessImage(p, popts), batchSize: 2 });
  await embed();
  const dir = stageDir(runDir, 'embed');
  const paths = partPaths(dir, features.KIND, 1);
  const good = readFileSync(paths.arrow);
  flipByte(paths.arrow);
  const again = await embed();
  t.is(again.partsSkipped, again.parts - 1, 'only part 1 redone');
  t.deepEqual(readFileSync(paths.arrow), good, 'the redone part holds the right data');
  t.is(readdirSync(dir).filter((n) => n.includes('.damaged-')).length, 1, 'the damaged file kept aside for a look');
  t.true(isPartCurrent(dir, features.KIND, 1));
});

test('merge checks content hashes by default: a same-size damaged part is refused, named', async (t) => {
  const root = tempDir('quarantine-merge');
  const imgs = join(root, 'imgs');
  await makeImageFolder(imgs, 4);
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, shard: { index: 0, count: 1 }, partSize: 3 });
  await runEmbed({ runDir, imageEncoder: new FakeImageEncoder(), preprocess: (p) => preprocessImage(p, popts), batchSize: 2 });
  const arrow = partPaths(stageDir(runDir, 'embed'), features.KIND, 0).arrow;
  flipByte(arrow);
  await t.throwsAsync(mergeRuns([runDir], join(root, 'corpus')),
    { instanceOf: UserError, message: new RegExp(`cannot merge: ${arrow}: damaged: its content differs from the sha256 in its marker`) });
  t.false(existsSync(join(root, 'corpus', 'corpus.json')));
  // asked for the size check only, it merges (the CLI says loudly that it did not look)
  await mergeRuns([runDir], join(root, 'corpus'), { verify: 'size' });
  t.true(existsSync(join(root, 'corpus', 'corpus.json')));
});

test('ingest rewrites an images part found damaged (the plan stands; the part is made from the same listing)', async (t) => {
  const root = tempDir('quarantine-ingest');
  const imgs = join(root, 'imgs');
  await makeImageFolder(imgs, 4);
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, shard: { index: 0, count: 1 }, partSize: 3 });
  const arrow = partPaths(stageDir(runDir, 'ingest'), 'images', 0).arrow;
  const good = readFileSync(arrow);
  flipByte(arrow);
  const lines: string[] = [];
  const again = await runIngest({ source: imgs, runDir, shard: { index: 0, count: 1 }, partSize: 3, log: (l) => lines.push(l) });
  t.true(again.skipped, 'the plan is kept');
  t.deepEqual(readFileSync(arrow), good);
  t.is(lines.length, 1);
  t.regex(lines[0], /images-00000\.arrow: damaged: its content differs/);
});
