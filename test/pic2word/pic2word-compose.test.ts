/** Pic2Word's retrieval prompt as its authors' src/data.py composes it, with its token in `$`. */
import test from 'ava';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { composeQueries, isComposeMethod, isMethod, methodNeeds, pic2wordPrompt } from '../../stages/retrieve/compose.ts';

function recorder(): { enc: TextEncoder; calls: { texts: string[]; pseudo?: (Float32Array | null)[] }[] } {
  const calls: { texts: string[]; pseudo?: (Float32Array | null)[] }[] = [];
  const enc: TextEncoder = {
    dim: 2, width: 2,
    async encodeIds() { throw new Error('not used'); },
    async encodeTexts(texts, pseudo) { calls.push({ texts, pseudo }); return texts.map((_, i) => Float32Array.of(1, i + 1)); },
  };
  return { enc, calls };
}

test('CIRR/CIRCO: "a photo of $ , {caption}" with the reference\'s token', async (t) => {
  const { enc, calls } = recorder();
  const token = Float32Array.of(0.3, 0.4);
  const [f] = await composeQueries('pic2word', [{ captions: ['has two dogs instead of one'], token }], { text: enc });
  t.deepEqual(calls[0].texts, ['a photo of $ , has two dogs instead of one']);
  t.is(calls[0].pseudo?.[0], token);
  t.true(Math.abs(Math.hypot(...f!) - 1) < 1e-6);
  t.is(pic2wordPrompt('x'), 'a photo of $ , x');
});

test('FashionIQ: one join, second caption first, as the captions come (the authors\' FashionIQ dataset)', async (t) => {
  const { enc, calls } = recorder();
  const token = Float32Array.of(1, 0);
  await composeQueries('pic2word', [{ captions: ['is red.', 'has sleeves'], token }], { text: enc });
  t.deepEqual(calls[0].texts, ['a photo of $ , has sleeves and is red.']);
});

test('pic2word needs a token like searle; a query without one is unanswerable; SEARLE\'s table is unchanged', async (t) => {
  const { enc, calls } = recorder();
  t.deepEqual(methodNeeds('pic2word'), { token: true, image: false, text: true });
  t.deepEqual(await composeQueries('pic2word', [{ captions: ['x'] }], { text: enc }), [null]);
  t.is(calls.length, 0);
  t.true(isComposeMethod('pic2word'));
  t.false(isMethod('pic2word'));
});
