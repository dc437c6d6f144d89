/**
 * inspect counts every part of a stage whose parts are not one per images part (phrases are chunked by
 * concept): a phrases stage with 2 parts in a 1-part run counts both parts' rows, and --verify checks
 * both; symbolic links left out of a source folder (outside it, or broken) are reported.
 */
import test from 'ava';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatReport, inspectRun } from '../../pipeline/inspect-run.ts';
import { readRunData } from '../../pipeline/report/run-data.ts';
import { overviewSection } from '../../pipeline/report/run-sections.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { partPaths, readPartStats } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { runIngest } from '../../stages/ingest/index.ts';
import { runPhrases } from '../../stages/phrases/run-phrases.ts';
import { makeImageFolder, tempDir } from '../embed/helpers.ts';

test('a 2-part phrases stage in a 1-part run: all rows counted, both parts verified; skipped links reported', async (t) => {
  const root = tempDir('inspect-counts');
  const imgs = join(root, 'imgs');
  const made = await makeImageFolder(imgs, 3);
  writeFileSync(join(root, 'outside.png'), readFileSync(join(imgs, made.good[0])));
  symlinkSync(join(root, 'outside.png'), join(imgs, 'out.png'));
  symlinkSync(join(root, 'gone.png'), join(imgs, 'dangling.png'));
  const runDir = join(root, 'run');
  await runIngest({ source: imgs, runDir, shard: { index: 0, count: 1 }, partSize: 100 });
  const phrasesDir = stageDir(runDir, 'phrases');
  await runPhrases({ concepts: ['cat', 'dog', 'bird'], outDir: phrasesDir, backend: 'templates', countTokens: (s) => s.split(/\s+/).length + 2,
    env: {}, sampling: { n: 3 }, conceptsPerPart: 2 });
  const rows = [0, 1].map((p) => readPartStats(phrasesDir, phrasesSchema.KIND, p).rows);
  const report = inspectRun(runDir, 'full');
  t.deepEqual(report.parts['phrases/phrases'], { done: 2, planned: 2, rows: rows[0] + rows[1] });
  t.is(report.skippedLinks, 2);
  t.regex(formatReport(report), /source: 2 symbolic links skipped \(pointing outside the folder, or broken\)/);
  // the report says so too, and counts both phrases parts
  const data = readRunData(runDir, { sample: 5 });
  t.is(data.phrases.phrases, rows[0] + rows[1]);
  t.regex(overviewSection(data, []).html, /id="skipped-source">source: 2 symbolic links skipped/);
  // damage in part 1 is seen by --verify
  const arrow = partPaths(phrasesDir, phrasesSchema.KIND, 1).arrow;
  const bytes = readFileSync(arrow);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(arrow, bytes);
  const bad = inspectRun(runDir, 'full').integrity.bad;
  t.deepEqual(bad.map((b) => b.path), [arrow]);
});
