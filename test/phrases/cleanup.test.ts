import test from 'ava';
import { cleanPhrase, cleanPhrases } from '../../stages/phrases/cleanup.ts';

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length + 2;

const CLEAN_TABLE: [string, string][] = [
  ['a photo of cat that sleeps\n\nIt is cute', 'a photo of cat that sleeps. It is cute'],
  ['a photo of cat that sleeps.\nIt is cute', 'a photo of cat that sleeps. It is cute'],
  ['a photo of cat that ... sleeps', 'a photo of cat that . sleeps'],
  ['wait.....', 'wait.'],
  ['  padded  ', 'padded'],
  ['line\r\nbreak', 'line. break'],
  ['\n\n', '.'],
];

for (const [raw, clean] of CLEAN_TABLE) {
  test(`cleanPhrase ${JSON.stringify(raw)}`, (t) => { t.is(cleanPhrase(raw), clean); });
}

test('cleanPhrases dedupes after clean-up, keeps order, drops empty and too-long phrases', (t) => {
  const long = `a photo of cat that ${'very '.repeat(80)}long`;
  const r = cleanPhrases(['a cat\nsits', 'a cat. sits', 'a cat.. sits', '', '  ', '\n', long, 'b cat'], words);
  t.deepEqual(r.phrases, ['a cat. sits', 'b cat']);
  t.deepEqual(r.dropped, { empty: 3, duplicate: 2, tooLong: 1 });
});

test('the context limit counts SOT and EOT: 77 ids pass, 78 do not', (t) => {
  const of = (n: number): string => Array.from({ length: n }, () => 'w').join(' ');
  t.deepEqual(cleanPhrases([of(75)], words).phrases, [of(75)]);
  t.is(cleanPhrases([of(76)], words).dropped.tooLong, 1);
});
