/**
 * The phrase store and the pools read from it: phrases by concept across parts, targets and texts by
 * row equal to what the phrases parts hold, missing targets computed once when a part is indexed, stale
 * or damaged store parts rebuilt, a directly written store read without Arrow parts, and phi's draws.
 */
import test from 'ava';
import { truncateSync, writeFileSync } from 'node:fs';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { ClipTokenizer } from '../../clip/text/tokenizer.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { DIRECT_SOURCE, PhraseStore, conceptRuns, packTexts, storeFile, writeStorePart } from '../../schemas/phrase-store.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import { partPaths, readPart, writePart } from '../../schemas/part-io.ts';
import { runPhrases } from '../../stages/phrases/run-phrases.ts';
import { PhrasePool } from '../../stages/oti/phrase-pool.ts';
import { PhiPhraseBank } from '../../stages/phi/phrase-bank.ts';
import { swapAll } from '../../clip/text/pseudo-word-swap.ts';
import { Rng } from '../../util/rng.ts';
import { tempDir } from '../helpers/test-utils.ts';

/** Counts calls; a phrase's "feature" is its length, so results can be traced back. */
class CountingEncoder implements TextEncoder {
  readonly dim = 4; readonly width = 8; calls = 0; texts: string[] = [];
  async encodeIds(ids: Int32Array[]): Promise<Float32Array[]> { return ids.map(() => new Float32Array(4)); }
  async encodeTexts(texts: string[]): Promise<Float32Array[]> {
    this.calls++;
    this.texts.push(...texts);
    return texts.map((t) => Float32Array.of(t.length, 0, 0, 0));
  }
}

const row = (concept: string, rest: string): phrasesSchema.PhraseRow => ({
  concept, phrase: `a photo of ${concept} ${rest}`, swapped: `a photo of $ ${rest}`, backend: 'import', model: 'm', paramsHash: 'h',
});

async function writePhrases(dir: string, index: number, rows: phrasesSchema.PhraseRow[], targets: (Float32Array | null)[] | null): Promise<void> {
  await writePart(dir, phrasesSchema.KIND, index, phrasesSchema.toTable(rows, targets ? { dim: 4, rows: targets } : undefined), SCHEMA_VERSION,
    { inputsHash: `x${index}-${rows.length}` });
}

test('pools read by concept across parts; missing targets computed once at indexing; stale and damaged store parts rebuilt', async (t) => {
  const dir = tempDir('store', t.teardown);
  await writePhrases(dir, 0, [row('cat', 'that sleeps'), row('cat', 'that purrs'), row('dog', 'that runs')],
    [Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), null]);
  await writePhrases(dir, 1, [row('dog', 'that barks'), row('émeu', 'that stares')], null);
  const enc = new CountingEncoder();
  let created = 0;
  const text = async () => { created++; return enc; };
  const tok = ClipTokenizer.default();
  const pool = await PhrasePool.load(dir, tok, text, 77, 4);
  t.is(pool.phraseCount, 5);
  t.is(pool.conceptCount, 3);
  t.is(enc.calls, 2, 'one call per part with missing targets');
  t.deepEqual(enc.texts, ['a photo of dog that runs', 'a photo of dog that barks', 'a photo of émeu that stares']);

  const list = pool.choicesFor(['dog', 'unknown', 'cat']);
  t.is(list.length, 4);
  // concept order, then store order: dog (part 0), dog (part 1), cat, cat
  t.deepEqual(Array.from(list.at(0)!.target), ['a photo of dog that runs'.length, 0, 0, 0]);
  t.deepEqual(Array.from(list.at(1)!.target), ['a photo of dog that barks'.length, 0, 0, 0]);
  t.deepEqual(Array.from(list.at(3)!.target), [5, 6, 7, 8]);
  t.deepEqual(Array.from(list.at(2)!.ids), Array.from(tok.tokenize('a photo of $ that sleeps', 77)));
  t.is(list.at(4), undefined);
  t.is(pool.choicesFor([]).length, 0);
  t.is(pool.choicesFor(['émeu']).at(0)!.target[0], 'a photo of émeu that stares'.length);
  list.at(0); list.at(0);
  t.is(pool.reads, 5, 'a drawn phrase is read once, then served from the pool');
  pool.close();

  // reopened: nothing to index, no encoder
  created = 0;
  const again = await PhraseStore.open(dir, { dim: 4, encode: async (x) => (await text()).encodeTexts(x) });
  t.is(again.partsBuilt, 0);
  t.is(created, 0);
  t.is(again.swapped(1, 1), 'a photo of $ that stares');
  again.close();

  // a rewritten part (another stats marker) and a cut-short store file are both rebuilt
  await writePhrases(dir, 0, [row('cat', 'that sleeps')], [Float32Array.of(9, 9, 9, 9)]);
  truncateSync(storeFile(dir, 1, 'targets.f32'), 8);
  const rebuilt = await PhraseStore.open(dir, { dim: 4, encode: (x) => enc.encodeTexts(x) });
  t.is(rebuilt.partsBuilt, 2);
  t.is(rebuilt.count('cat'), 1);
  t.deepEqual(Array.from(rebuilt.target(0, 0)), [9, 9, 9, 9]);
  t.is(rebuilt.count('dog'), 1);
  rebuilt.close();

  // another model's dims are refused in one line
  await t.throwsAsync(PhraseStore.open(dir, { dim: 8 }), { message: /4-d targets, the model's features are 8-d/ });
});

test('a store written directly is read without Arrow parts; a damaged one is refused; phi draws and prepares from it', async (t) => {
  const dir = tempDir('store', t.teardown);
  const concepts = ['red car', 'red car', 'red car', 'tree'];
  const phrases = ['a red car near a red car', 'the red car', 'red car at night', 'a tree'];
  const targets = Float32Array.from({ length: 16 }, (_, i) => i);
  writeStorePart(dir, 3, { rows: 4, dim: 4, runs: conceptRuns(concepts), targets, phrase: packTexts(phrases), swapped: packTexts(phrases) }, DIRECT_SOURCE);
  const ids = (s: string) => Int32Array.from(s, (c) => c.charCodeAt(0));
  const enc = new CountingEncoder();
  const bank = await PhiPhraseBank.load(dir, new Set(['red car', 'nope']), ids, enc);
  t.is(bank.conceptCount, 1);
  t.is(bank.phraseCount, 3);
  t.deepEqual(bank.usable(['nope', 'tree', 'red car']), ['tree', 'red car']);
  // the same draws as an in-memory list of the concept's phrases with the same generator
  const a = new Rng(5), b = new Rng(5);
  for (let k = 0; k < 20; k++) t.is(bank.pick('red car', a).phrase, phrases[b.int(3)]);
  const picked = [bank.pick('tree', a), bank.pick('red car', a)];
  const prep = await bank.prepare(picked);
  t.deepEqual(Array.from(prep.targets[0]), [12, 13, 14, 15]);
  t.deepEqual(Array.from(prep.ids[1]), Array.from(ids(swapAll(picked[1].phrase, 'red car'))));
  t.is(enc.calls, 0);
  bank.close();

  writeFileSync(partPaths(dir, 'unrelated', 0).arrow, 'x'); // other files in the folder do not matter
  truncateSync(storeFile(dir, 3, 'phrase.off'), 3);
  await t.throwsAsync(PhraseStore.open(dir, { dim: 4 }), { message: /phrases-00003\.index\.json is damaged/ });
});

test('the phrases stage writes the store beside its parts, so OTI and phi index nothing', async (t) => {
  const outDir = tempDir('store', t.teardown);
  const enc = new CountingEncoder();
  const res = await runPhrases({
    concepts: ['cat', 'dog', 'red ball'], outDir, backend: 'templates', countTokens: (s) => s.split(/\s+/).length + 2, env: {},
    sampling: { n: 4 }, textEncoder: enc, textEncoderId: 'counting', conceptsPerPart: 2,
  });
  const store = await PhraseStore.open(outDir, { dim: 4 });
  t.is(store.partsBuilt, 0, 'both parts were indexed by the stage');
  t.is(store.phraseCount, res.phrases);
  const part = phrasesSchema.fromTable(readPart(outDir, phrasesSchema.KIND, 1));
  const [range] = store.ranges('red ball');
  t.is(range.part, 1);
  t.is(store.count('red ball'), part.rows.length);
  part.rows.forEach((r, i) => {
    t.is(store.phrase(1, i), r.phrase);
    t.is(store.swapped(1, i), r.swapped);
    t.deepEqual(Array.from(store.target(1, i)), Array.from(part.targets!.rows[i]!));
  });
  store.close();
});
