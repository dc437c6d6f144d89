import test from 'ava';
import { conceptRegex, defaultSwapFor, swapAll, swapAllFor, swapConceptPhrases, swapSearle, swapWord, swapWordAll } from '../../stages/phrases/swap.ts';

// [concept, phrase, expected swapped text or null when the concept is absent]
const WORD_TABLE: [string, string, string | null][] = [
  ['cat', 'a photo of cat that sleeps', 'a photo of  $  that sleeps'],
  ['cat', 'a photo of a Cat that sleeps', 'a photo of a  $  that sleeps'],
  ['cat', 'a category of things', null],
  ['cat', 'a photo of a bobcat', null],
  ['cat', 'two cats and a cat', 'two  $  and a cat'],
  ['cat', "the cat's toy", "the  $ 's toy"],
  ['cat', 'cat.', ' $ .'],
  ['box', 'three boxes on a shelf', 'three  $  on a shelf'],
  ['box', 'a boxer dog', null],
  ['berry', 'fresh berries in a bowl', 'fresh  $  in a bowl'],
  ['berry', 'a berry on a plate', 'a  $  on a plate'],
  ['toy', 'toys on the floor', ' $  on the floor'],
  ['Human face', 'a photo of a human   face in the dark', 'a photo of a  $  in the dark'],
  ['Human face', 'a human\nface', 'a  $ '],
  ['Human face', 'two human faces', 'two  $ '],
  ['Human face', 'a humanface', null],
  ['c++', 'a book about C++ code', 'a book about  $  code'],
  ['c++', 'a book about c', null],
  ['a.b', 'the a.b sign', 'the  $  sign'],
  ['a.b', 'the axb sign', null],
  ['(x)', 'label(x)here', 'label $ here'],
  ['café', 'a cozy Café at night', 'a cozy  $  at night'],
  ['café', 'a cafés row', 'a  $  row'],
  ['T-shirt', 'a red t-shirt on a chair', 'a red  $  on a chair'],
  ['dog', 'a hotdog stand', null],
  ['dog', 'dog_house', null],
  ['$', 'pay $ 5', 'pay  $  5'],
];

for (const [concept, phrase, expected] of WORD_TABLE) {
  test(`word swap: ${JSON.stringify(concept)} in ${JSON.stringify(phrase)}`, (t) => {
    t.is(swapWord(phrase, concept), expected);
  });
}

const SEARLE_TABLE: [string, string, string | null][] = [
  ['cat', 'a photo of cat that sleeps', 'a photo of  $  that sleeps'],
  ['cat', 'a photo of Cat', null], // case-sensitive
  ['cat', 'a category', 'a  $ egory'], // plain substring, as SEARLE's str.replace
  ['cat', 'cat and cat', ' $  and cat'], // first occurrence only
  ['c++', 'c++ code', ' $  code'],
];

for (const [concept, phrase, expected] of SEARLE_TABLE) {
  test(`searle swap: ${JSON.stringify(concept)} in ${JSON.stringify(phrase)}`, (t) => {
    t.is(swapSearle(phrase, concept), expected);
  });
}

test('word mode drops and counts phrases without the concept, keeps the others', (t) => {
  const r = swapConceptPhrases('cat', ['a cat', 'a category', 'two cats', 'a dog'], 'word');
  t.deepEqual(r.kept.map((k) => k.swapped), ['a  $ ', 'two  $ ']);
  t.deepEqual(r.kept.map((k) => k.phrase), ['a cat', 'two cats']);
  t.is(r.droppedWithoutConcept, 2);
  t.false(r.conceptDropped);
});

test('searle mode drops the whole concept when any phrase lacks it', (t) => {
  const all = swapConceptPhrases('cat', ['a photo of cat that', 'a cat'], 'searle');
  t.is(all.kept.length, 2);
  t.false(all.conceptDropped);
  const one = swapConceptPhrases('cat', ['a photo of cat that', 'a Cat'], 'searle');
  t.deepEqual(one.kept, []);
  t.true(one.conceptDropped);
  t.is(one.droppedWithoutConcept, 1);
});

test('concept regex compiles for names full of regex syntax', (t) => {
  for (const c of ['a|b', '[x]', 'x*', '^y$', 'back\\slash', 'q?', '{z}', 'a/b']) {
    t.notThrows(() => conceptRegex(c), c);
    t.is(swapWord(`see ${c} here`, c), 'see  $  here', c);
  }
});

test('swapWordAll replaces every occurrence under the word rules', (t) => {
  t.is(swapWordAll('a cat, two Cats and a category', 'cat'), 'a  $ , two  $  and a category');
  t.is(swapWordAll('a dog', 'cat'), null);
  t.is(swapWordAll('c++ and C++', 'c++'), ' $  and  $ ');
});

// phi's L_gpt swap, SEARLE's train_phi.py: Python's `phrase.replace(concept, " $ ")`, every occurrence
const SEARLE_ALL_TABLE: [string, string, string][] = [
  ['cat', 'a photo of cat that sleeps', 'a photo of  $  that sleeps'],
  ['cat', 'a cat and a cat', 'a  $  and a  $ '],
  ['cat', 'a category of cats', 'a  $ egory of  $ s'], // plain substring, as str.replace
  ['cat', 'a photo of Cat', 'a photo of Cat'], // case-sensitive: unchanged (the concept filter keeps such phrases out)
  ['aa', 'aaa', ' $ a'], // non-overlapping, left to right, as str.replace
  ['c++', 'c++ and c++', ' $  and  $ '],
];

for (const [concept, phrase, expected] of SEARLE_ALL_TABLE) {
  test(`phi swap (all occurrences): ${JSON.stringify(concept)} in ${JSON.stringify(phrase)}`, (t) => {
    t.is(swapAll(phrase, concept), expected);
    t.is(swapAllFor('searle')(phrase, concept), expected);
  });
}

test('phi swap under a word-mode phrases part follows the word rules', (t) => {
  t.is(swapAllFor('word')('a cat, two Cats and a category', 'cat'), 'a  $ , two  $  and a category');
});

// the default swap per backend: SEARLE's everywhere except chat models, which recase and inflect
const DEFAULT_SWAP: [string, 'searle' | 'word'][] = [['completions', 'searle'], ['templates', 'searle'], ['import', 'searle'], ['chat', 'word']];

for (const [backend, mode] of DEFAULT_SWAP) {
  test(`default swap for --backend ${backend} is ${mode}`, (t) => { t.is(defaultSwapFor(backend), mode); });
}

test('under the defaults one phrase without the concept drops the concept (SEARLE) but only the phrase (chat)', (t) => {
  const phrases = ['a photo of cat that sleeps', 'a photo of Cats on a mat', 'a photo of a dog'];
  const searle = swapConceptPhrases('cat', phrases, defaultSwapFor('completions'));
  t.true(searle.conceptDropped);
  t.deepEqual(searle.kept, []);
  const chat = swapConceptPhrases('cat', phrases, defaultSwapFor('chat'));
  t.false(chat.conceptDropped);
  t.deepEqual(chat.kept.map((k) => k.swapped), ['a photo of  $  that sleeps', 'a photo of  $  on a mat']);
  t.is(chat.droppedWithoutConcept, 1);
});
