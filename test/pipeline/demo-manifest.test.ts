/** The demo's input: the toy CIRCO references under their gallery ids, unlabeled images, two broken files. */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { toyWorld, writeDemoManifest } from '../../pipeline/demo/toy-world.ts';
import { tempDir } from '../helpers/test-utils.ts';

test('the demo manifest holds every CIRCO reference by its gallery id, the unlabeled images asked for, and two broken files', async (t) => {
  const dir = tempDir('demo');
  const made = await writeDemoManifest(dir, 7);
  t.deepEqual({ references: made.references, unlabeled: made.unlabeled, broken: made.broken }, { references: 100, unlabeled: 7, broken: 2 });
  const rows = parse(readFileSync(made.manifest, 'utf8'), { columns: true }) as { path: string; id: string }[];
  t.is(rows.length, 109);
  t.is(new Set(rows.map((r) => r.id)).size, rows.length, 'ids are unique');
  for (const r of rows) t.true(existsSync(r.path), r.path);
  const queries = JSON.parse(readFileSync(join(toyWorld.circo, 'annotations', 'val.json'), 'utf8')) as { reference_img_id: number }[];
  const ids = new Set(rows.map((r) => r.id));
  for (const q of queries) t.true(ids.has(`${String(q.reference_img_id).padStart(6, '0')}.png`));
  t.is(rows.filter((r) => r.id.startsWith('phi-train/')).length, 7);
  t.deepEqual(rows.filter((r) => r.id.startsWith('broken/')).map((r) => r.id), ['broken/truncated.png', 'broken/not-an-image.png']);
});
