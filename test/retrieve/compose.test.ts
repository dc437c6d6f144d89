import test from 'ava';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { captionVariants, composeQueries, searlePrompt, stripCaption } from '../../stages/retrieve/compose.ts';

/** A stand-in text encoder: a fixed feature per text; with a pseudo-token, the token itself. Records its calls. */
function fakeEncoder(table: Record<string, number[]>): TextEncoder & { calls: { texts: string[]; pseudo?: (Float32Array | null)[] }[] } {
  const calls: { texts: string[]; pseudo?: (Float32Array | null)[] }[] = [];
  return {
    dim: 2, width: 2, calls,
    async encodeIds() { throw new Error('not used'); },
    async encodeTexts(texts, pseudo) {
      calls.push({ texts, pseudo });
      return texts.map((t, i) => {
        const p = pseudo?.[i];
        if (p) return Float32Array.from(p);
        if (!(t in table)) throw new Error(`unexpected text ${t}`);
        return Float32Array.from(table[t]);
      });
    },
  };
}

const close = (a: Float32Array | null, b: number[]) => a !== null && a.length === b.length && b.every((v, i) => Math.abs(a[i] - v) < 1e-6);

test('SEARLE prompt and FashionIQ joins: stripped of .?, and joined in both orders', (t) => {
  t.is(searlePrompt('is red'), 'a photo of $ that is red');
  t.is(stripCaption(' .is red?, '), 'is red');
  t.deepEqual(captionVariants(['is red.', ' has sleeves?']), ['is red and has sleeves', 'has sleeves and is red']);
  t.deepEqual(captionVariants(['keep as is. ']), ['keep as is. ']); // CIRR/CIRCO captions go in untouched
});

test('searle: prompt with the pseudo-token; FashionIQ averages the two normalised orders', async (t) => {
  const enc = fakeEncoder({});
  // Fake: the feature of a prompted text is its token, so make the two orders' tokens differ by the text:
  const byText: Record<string, number[]> = {
    'a photo of $ that is red and has sleeves': [3, 0],
    'a photo of $ that has sleeves and is red': [0, 5],
  };
  const enc2: TextEncoder = { ...enc, async encodeTexts(texts, pseudo) {
    await enc.encodeTexts(texts, pseudo);
    return texts.map((s) => Float32Array.from(byText[s]));
  } };
  const token = new Float32Array([0.5, 0.5]);
  const [f] = await composeQueries('searle', [{ captions: ['is red.', 'has sleeves'], token }], { text: enc2 });
  // normalise (3,0) → (1,0); (0,5) → (0,1); mean (0.5,0.5) → normalised (0.7071, 0.7071)
  t.true(close(f, [Math.SQRT1_2, Math.SQRT1_2]));
  t.deepEqual(enc.calls[0].texts, Object.keys(byText));
  t.is(enc.calls[0].pseudo?.[0], token);
  t.is(enc.calls[0].pseudo?.[1], token);
});

test('image, text and sum baselines; a query without its token or feature is null', async (t) => {
  const enc = fakeEncoder({ 'is blue': [0, 2] });
  const inputs = [{ captions: ['is blue'], image: new Float32Array([4, 0]), token: null }];
  t.true(close((await composeQueries('image', inputs))[0], [1, 0]));
  t.true(close((await composeQueries('text', inputs, { text: enc }))[0], [0, 1]));
  // (1,0) + (0,1) normalised
  t.true(close((await composeQueries('sum', inputs, { text: enc }))[0], [Math.SQRT1_2, Math.SQRT1_2]));
  t.is((await composeQueries('searle', inputs, { text: enc }))[0], null);
  t.is((await composeQueries('image', [{ captions: ['x'] }]))[0], null);
  t.is(enc.calls.filter((c) => c.pseudo).length, 0); // text and sum encode without a token
});

test('texts are sent in batches of the given size, in order', async (t) => {
  const table: Record<string, number[]> = {};
  const inputs = Array.from({ length: 5 }, (_, i) => { table[`c${i}`] = [i + 1, 1]; return { captions: [`c${i}`] }; });
  const enc = fakeEncoder(table);
  const out = await composeQueries('text', inputs, { text: enc, batch: 2 });
  t.deepEqual(enc.calls.map((c) => c.texts.length), [2, 2, 1]);
  out.forEach((f, i) => { const n = Math.hypot(i + 1, 1); t.true(close(f, [(i + 1) / n, 1 / n])); });
});
