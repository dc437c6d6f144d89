import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { fillTemplate, loadTemplates, templatesHash } from '../../clip/text/templates.ts';
import { tempDir } from './_helpers.ts';

test('the 24 PALAVRA templates, each with one slot', (t) => {
  const ts = loadTemplates();
  t.is(ts.length, 24);
  t.is(ts[0], 'This is a photo of a {}');
  t.is(ts[14], '{}');
  t.is(ts[23], '{} illustration');
});

test("filled as SEARLE's template.format(f' {name} ')", (t) => {
  t.is(fillTemplate('A photo of a {}', 'cat'), 'A photo of a  cat ');
  t.is(fillTemplate('{}', 'Ducks, geese and swans'), ' Ducks, geese and swans ');
  t.is(fillTemplate('{} photo', 'a $& b $1'), " a $& b $1  photo", 'replacement patterns stay literal');
});

test('templates hash changes with the list; bad template files are refused', (t) => {
  t.not(templatesHash(['{}']), templatesHash(['A {}']));
  t.is(templatesHash(loadTemplates()), templatesHash(loadTemplates()));
  const dir = tempDir('tpl');
  for (const [name, text] of [['a.json', '["no slot"]'], ['b.json', '["{} and {}"]'], ['c.json', '["{0} x"]'],
    ['d.json', '[]'], ['e.json', '{"a": 1}'], ['f.json', 'not json']]) {
    const path = join(dir, name);
    writeFileSync(path, text);
    t.throws(() => loadTemplates(path), { instanceOf: UserError }, name);
  }
});
