import test from 'ava';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as concepts from '../../schemas/concepts.ts';
import { listDoneParts, partPaths, readPart, readPartStats } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';
import { runConcepts } from '../../stages/concepts/run-concepts.ts';
import { encodeVocabulary } from '../../stages/concepts/vocab-features.ts';
import { loadTemplates } from '../../clip/text/templates.ts';
import { FakeTextEncoder, bruteTopK, tempDir, writeFeatureParts } from './_helpers.ts';

const DIM = 16;
const NAMES = Array.from({ length: 120 }, (_, i) => `concept ${i}`).concat(['salt, pepper', 'Fiat 500 "topolino"']);

function setup(label: string) {
  const root = tempDir(label);
  const vocabPath = join(root, 'vocab.txt');
  writeFileSync(vocabPath, `${NAMES.join('\n')}\n\nconcept 3\n`);
  return { root, vocabPath, featuresDir: join(root, 'embed'), outDir: join(root, 'concepts'), cacheDir: join(root, 'cache') };
}

test('one concepts part per features part: brute-force top-k, schema and stats', async (t) => {
  const s = setup('run');
  const parts = await writeFeatureParts(s.featuresDir, [9, 0, 5], DIM);
  const enc = new FakeTextEncoder(DIM);
  const logs: string[] = [];
  const res = await runConcepts({ ...s, textEncoder: enc, modelHash: 'model-a', topK: 20, log: (l) => logs.push(l) });
  t.like(res, { parts: 3, written: 3, skipped: 0, images: 14, topK: 20, vocabulary: { size: NAMES.length } });
  t.false(res.cache!.hit);
  t.true(logs.some((l) => /122 names .*skipped 1 blank, 1 duplicate/.test(l)));
  t.deepEqual(listDoneParts(s.outDir, concepts.KIND), [0, 1, 2]);

  const vocab = await encodeVocabulary({ names: NAMES, templates: loadTemplates(), textEncoder: new FakeTextEncoder(DIM) });
  for (let p = 0; p < parts.length; p++) {
    const table = readPart(s.outDir, concepts.KIND, p);
    t.is(table.schema.metadata.get('starword.model_hash'), 'model-a');
    t.is(table.schema.metadata.get('starword.top_k'), '20');
    t.is(table.schema.fields.map((f) => `${f.name}:${String(f.type)}`).join(' '), 'image_id:Utf8 concepts:List<Utf8> scores:List<Float32>');
    const rows = concepts.fromTable(table);
    t.deepEqual(rows.map((r) => r.imageId), parts[p].ids);
    rows.forEach((r, i) => {
      const ref = bruteTopK(parts[p].features[i], vocab.matrix, DIM, 20);
      t.deepEqual(r.concepts, ref.map((x) => NAMES[x.i]));
      t.true(ref.every((x, j) => Math.abs(x.s - r.scores[j]) < 1e-6));
    });
    const stats = readPartStats(s.outDir, concepts.KIND, p);
    t.like(stats, { rows: parts[p].ids.length, modelHash: 'model-a', topK: 20, vocabSize: NAMES.length });
  }
});

test('resume: done parts are skipped, an unfinished one is redone, with no encoder call', async (t) => {
  const s = setup('resume');
  await writeFeatureParts(s.featuresDir, [4, 4, 4], DIM);
  await runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'm', topK: 10 });
  const before = readFileSync(partPaths(s.outDir, concepts.KIND, 0).arrow);
  // part 1 "killed" before its marker: an arrow file without stats
  rmSync(partPaths(s.outDir, concepts.KIND, 1).stats);
  writeFileSync(partPaths(s.outDir, concepts.KIND, 1).arrow, 'half-written');
  const enc = new FakeTextEncoder(DIM);
  const res = await runConcepts({ ...s, textEncoder: enc, modelHash: 'm', topK: 10 });
  t.like(res, { parts: 3, written: 1, skipped: 2, images: 4 });
  t.true(res.cache!.hit);
  t.is(enc.calls, 0, 'vocabulary features came from the cache');
  t.is(concepts.fromTable(readPart(s.outDir, concepts.KIND, 1)).length, 4);
  t.deepEqual(readFileSync(partPaths(s.outDir, concepts.KIND, 0).arrow), before, 'done part untouched');

  const enc2 = new FakeTextEncoder(DIM);
  const all = await runConcepts({ ...s, textEncoder: enc2, modelHash: 'm', topK: 10 });
  t.like(all, { written: 0, skipped: 3, cache: null });
  t.is(enc2.calls, 0);

  // parts made with another model or K are redone, never mixed with the new ones
  const lines: string[] = [];
  const other = await runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'other', topK: 10, log: (l) => lines.push(l) });
  t.like(other, { written: 3, skipped: 0 });
  t.true(lines.some((l) => /redoing .*concepts-00000\.stats\.json: made with another model/.test(l)), lines.join('\n'));
  for (let p = 0; p < 3; p++) t.is(readPartStats(s.outDir, concepts.KIND, p).modelHash, 'other');
  const wider = await runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'other', topK: 11 });
  t.like(wider, { written: 3, skipped: 0 });
  t.is(concepts.fromTable(readPart(s.outDir, concepts.KIND, 2))[0].concepts.length, 11);
});

test('clear errors: no features parts, dimension mismatch, bad top-k', async (t) => {
  const s = setup('errors');
  await t.throwsAsync(runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'm' }),
    { instanceOf: UserError, message: /no finished 'features' parts/ });
  await writeFeatureParts(s.featuresDir, [3], DIM);
  const wide = new FakeTextEncoder(DIM + 1);
  await t.throwsAsync(runConcepts({ ...s, textEncoder: wide, modelHash: 'm' }),
    { instanceOf: UserError, message: /dimension 16 but the model's text features 17/ });
  t.is(wide.calls, 0, 'the mismatch is caught before any vocabulary encoding');
  await t.throwsAsync(runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'm', topK: 0 }),
    { instanceOf: UserError, message: /--top-k/ });
  writeFileSync(partPaths(s.featuresDir, 'features', 0).arrow, 'not arrow');
  await t.throwsAsync(runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'm' }),
    { instanceOf: UserError, message: /cannot read features part 0/ });
});

test('a concepts part whose features part is gone (a replan with fewer parts) is removed, named in the log', async (t) => {
  const s = setup('orphan');
  await writeFeatureParts(s.featuresDir, [4, 4, 4], DIM);
  await runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'm', topK: 10 });
  for (const f of Object.values(partPaths(s.featuresDir, 'features', 2))) rmSync(f);
  const lines: string[] = [];
  const res = await runConcepts({ ...s, textEncoder: new FakeTextEncoder(DIM), modelHash: 'm', topK: 10, log: (l) => lines.push(l) });
  t.like(res, { parts: 2, written: 0, skipped: 2 });
  t.deepEqual(listDoneParts(s.outDir, concepts.KIND), [0, 1]);
  t.true(lines.includes(`concepts: removed ${partPaths(s.outDir, concepts.KIND, 2).arrow}: its input part is gone`), lines.join('\n'));
});
