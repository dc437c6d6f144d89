import test from 'ava';
import type { TextEncoder } from '../../clip/encoder-types.ts';
import { ClipTokenizer } from '../../clip/tokenizer.ts';
import { PhrasePool } from '../../stages/oti/phrase-pool.ts';

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

test('pooled phrases of the asked concepts; missing targets computed once, stored ones never; no encoder unless needed', async (t) => {
  const enc = new CountingEncoder();
  let created = 0;
  const pool = new PhrasePool(ClipTokenizer.default(), async () => { created++; return enc; }, 77);
  pool.add('cat', 'a photo of cat that sleeps', 'a photo of $ that sleeps', Float32Array.of(9, 9, 9, 9));
  pool.add('dog', 'a photo of dog that runs', 'a photo of $ that runs', null);
  pool.add('dog', 'a photo of dog that barks', 'a photo of $ that barks', null);
  t.is(pool.conceptCount, 2);
  t.is(pool.phraseCount, 3);

  const cat = await pool.choicesFor(['cat', 'unknown']);
  t.is(cat.length, 1);
  t.is(created, 0, 'all targets stored: no encoder made');
  t.deepEqual(Array.from(cat[0].target), [9, 9, 9, 9]);
  t.true(Array.from(cat[0].ids).includes(259), 'the swapped phrase is tokenized with $');

  const both = await pool.choicesFor(['dog', 'cat']);
  t.is(both.length, 3);
  t.is(enc.calls, 1);
  t.deepEqual(enc.texts, ['a photo of dog that runs', 'a photo of dog that barks']);
  t.is(both[0].target[0], 'a photo of dog that runs'.length);
  await pool.choicesFor(['dog']);
  t.is(enc.calls, 1, 'computed once');
  t.is(await pool.choicesFor([]).then((c) => c.length), 0);
});
