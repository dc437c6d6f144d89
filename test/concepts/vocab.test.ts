import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { describeVocabulary, loadVocabulary } from '../../stages/concepts/vocab.ts';
import { tempDir } from './_helpers.ts';

test('Open Images V7 parses to 20,931 names, the 13 comma-holding ones intact', (t) => {
  const v = loadVocabulary();
  t.is(v.names.length, 20931);
  t.is(v.report.column, 'DisplayName');
  t.is(v.report.duplicates, 0);
  t.is(v.report.blank, 0);
  const withComma = v.names.filter((n) => n.includes(','));
  t.is(withComma.length, 13);
  t.true(withComma.includes('Ducks, geese and swans'));
  t.true(withComma.includes('Toyota concept vehicles, 2000–09'));
  t.true(withComma.includes('R. torre & company, inc.'));
  t.true(v.names.includes('Fiat 500 "topolino"')); // doubled quotes inside a quoted field
  t.is(v.names[0], "'Nduja");
  t.false(v.names.some((n) => n.startsWith('/m/')), 'the LabelName column is not read');
  t.regex(v.hash, /^[0-9a-f]{64}$/);
});

function write(name: string, text: string | Buffer): string {
  const dir = tempDir('vocab');
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('CSV: the column named name / DisplayName / concept is read, quoted commas kept', (t) => {
  const v = loadVocabulary(write('v.csv', 'id,Concept,extra\n1,cat,x\n2,"red, round ball",y\n3,,z\n4,cat,w\n'));
  t.deepEqual(v.names, ['cat', 'red, round ball']);
  t.is(v.report.column, 'Concept');
  t.is(v.report.blank, 1);
  t.is(v.report.duplicates, 1);
  t.deepEqual(v.report.duplicateExamples, ['cat']);
  t.regex(describeVocabulary(v), /2 names from column 'Concept' .*skipped 1 blank, 1 duplicate \("cat"\)/);
  t.deepEqual(loadVocabulary(write('v.csv', 'name,DisplayName\na,b\n')).names, ['a'], 'name wins over DisplayName');
});

test('CSV without a known column: the first column, header row skipped', (t) => {
  const v = loadVocabulary(write('v.csv', '\uFEFFlabel,score\r\ndog,1\r\n\r\nbird,2\r\n'));
  t.deepEqual(v.names, ['dog', 'bird']);
  t.is(v.report.column, 'label');
  t.is(v.report.blank, 1);
});

test('TSV and one name per line: blanks, duplicates, CRLF, BOM and commas in names', (t) => {
  t.deepEqual(loadVocabulary(write('v.tsv', 'x\tname\n1\ta, b\n')).names, ['a, b']);
  const v = loadVocabulary(write('v.txt', '\uFEFFcat\r\n\r\n  dog  \ncat\nsalt, pepper\n   \n'));
  t.deepEqual(v.names, ['cat', 'dog', 'salt, pepper']);
  t.is(v.report.format, 'lines');
  t.is(v.report.rows, 6);
  t.is(v.report.blank, 2);
  t.is(v.report.duplicates, 1);
  t.not(v.hash, loadVocabulary(write('w.txt', 'cat\ndog\n')).hash);
  t.is(loadVocabulary(write('a.txt', 'cat\ndog\n')).hash, loadVocabulary(write('b.csv', 'name\ncat\ndog\n')).hash,
    'the hash depends on the names, not the file format');
});

test('bad vocabulary files give one-line UserErrors', (t) => {
  const dir = tempDir('vocab-bad');
  const cases: [string, RegExp][] = [
    [join(dir, 'missing.txt'), /cannot read vocabulary .*missing\.txt/],
    [write('empty.txt', ''), /holds no names/],
    [write('blank.txt', '\n  \n\n'), /holds no names/],
    [write('header-only.csv', 'name\n'), /holds no names/],
    [write('bad.csv', 'name\n"unclosed,quote\n'), /is not valid CSV/],
    [write('bin.txt', Buffer.from([0x63, 0x00, 0x01, 0x0a])), /is not a text file/],
  ];
  mkdirSync(join(dir, 'adir.csv'));
  cases.push([join(dir, 'adir.csv'), /is a directory/]);
  for (const [path, re] of cases) {
    const err = t.throws(() => loadVocabulary(path), { instanceOf: UserError }, path);
    t.regex(err!.message, re);
    t.false(err!.message.includes('\n'), 'one line');
  }
});
