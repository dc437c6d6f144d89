/**
 * The phrase targets are stored once: in the phrases Arrow part (what pyarrow reads, what the marker's
 * sha256 vouches for). The store beside it keeps the texts and an index of where each record batch's
 * targets lie in that file, and reads a target there by position; only targets the store computed
 * itself (parts made without a model) live in the store.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { PhraseStore, STORE_DIR, storeFile } from '../../schemas/phrase-store.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { partPaths, readPart, writePart } from '../../schemas/part-io.ts';
import { runPhrases } from '../../stages/phrases/run-phrases.ts';
import { tempDir } from '../helpers/test-utils.ts';

const DIM = 512;
const encoder: TextEncoder = {
  dim: DIM, width: 8,
  encodeIds: async (ids) => ids.map(() => new Float32Array(DIM)),
  encodeTexts: async (texts) => texts.map((s) => Float32Array.from({ length: DIM }, (_, i) => s.length * 100 + i)),
};

test('targets live only in the Arrow parts; the store reads them there, equal to the part\'s column', async (t) => {
  const outDir = tempDir('once', t.teardown);
  const res = await runPhrases({
    concepts: ['cat', 'dog', 'red ball', 'tree'], outDir, backend: 'templates', countTokens: (s) => s.split(/\s+/).length + 2, env: {},
    sampling: { n: 6 }, textEncoder: encoder, textEncoderId: 'enc', conceptsPerPart: 3,
  });
  t.is(res.parts.length, 2);
  t.deepEqual(readdirSync(join(outDir, STORE_DIR)).filter((n) => n.endsWith('.targets.f32')), [], 'no second copy of the targets');
  const store = await PhraseStore.open(outDir, { dim: DIM, modelHash: 'enc' });
  t.is(store.partsBuilt, 0);
  for (const p of res.parts) {
    const part = phrasesSchema.fromTable(readPart(outDir, phrasesSchema.KIND, p));
    part.targets!.rows.forEach((want, row) => t.deepEqual(Array.from(store.target(p, row)), Array.from(want!), `part ${p} row ${row}`));
  }
  store.close();
  // what the store adds beside the parts: texts and indexes, a fraction of the targets' bytes
  const storeBytes = readdirSync(join(outDir, STORE_DIR)).reduce((n, f) => n + statSync(join(outDir, STORE_DIR, f)).size, 0);
  const targetBytes = res.phrases * DIM * 4;
  t.true(storeBytes < targetBytes / 4, `store ${storeBytes} bytes, targets ${targetBytes}`);

  // a flipped byte among the targets: the store checks the part's content when it opens, moves it aside,
  // and the phrases stage's next run redoes it with the right targets
  const arrow = partPaths(outDir, phrasesSchema.KIND, 1).arrow;
  const good = readFileSync(arrow);
  const bad = Buffer.from(good);
  bad[bad.length - 64] ^= 0xff;
  writeFileSync(arrow, bad);
  await t.throwsAsync(PhraseStore.open(outDir, { dim: DIM }), { message: /phrases-00001\.arrow: damaged: its content differs .*moved aside to .*; rerun the phrases stage to redo it/ });
  await runPhrases({
    concepts: ['cat', 'dog', 'red ball', 'tree'], outDir, backend: 'templates', countTokens: (s) => s.split(/\s+/).length + 2, env: {},
    sampling: { n: 6 }, textEncoder: encoder, textEncoderId: 'enc', conceptsPerPart: 3,
  });
  t.deepEqual(readFileSync(arrow), good);
  const reopened = await PhraseStore.open(outDir, { dim: DIM });
  t.is(reopened.partsBuilt, 0, 'the stage indexed the redone part');
  reopened.close();
});

test('targets the store computes (a part made without a model) are kept in the store', async (t) => {
  const dir = tempDir('once', t.teardown);
  const row = (concept: string, phrase: string) => ({ concept, phrase, swapped: phrase.replace(concept, ' $ '), backend: 'import', model: 'm', paramsHash: 'h' });
  await writePart(dir, phrasesSchema.KIND, 0, phrasesSchema.toTable([row('cat', 'a cat'), row('dog', 'a dog')]), SCHEMA_VERSION, { inputsHash: 'x' });
  const store = await PhraseStore.open(dir, { dim: DIM, encode: (x) => encoder.encodeTexts(x), modelHash: 'enc' });
  t.true(existsSync(storeFile(dir, 0, 'targets.f32')));
  t.is(store.target(0, 1)[0], 'a dog'.length * 100);
  store.close();
  t.true(existsSync(partPaths(dir, phrasesSchema.KIND, 0).arrow));
});
