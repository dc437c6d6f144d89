import test from 'ava';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as images from '../../schemas/images.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { readPlan, stageDir } from '../../schemas/run-layout.ts';
import { listImageDir, listImageManifest, runIngest } from '../../stages/ingest/index.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../embed/helpers.ts';

/** Files need not be real images for ingest: it only lists. */
function touch(root: string, ...rels: string[]): void {
  for (const rel of rels) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), 'x');
  }
}

test('dir: recursive, extensions case-insensitive, hidden and non-image skipped, ids with / in sorted order', async (t) => {
  const root = tempDir('ingest');
  touch(root, 'b.JPG', 'a/c.png', 'a/deep/d.webp', 'e.gif', 'f.TIFF', 'g.tif', 'h.avif', 'i.jpeg', 'notes.txt', 'noext',
    '.hidden.png', '.cache/x.png', 'a/.y.jpg');
  const { images: found } = await listImageDir(root);
  t.deepEqual(found.map((r) => r.id), ['a/c.png', 'a/deep/d.webp', 'b.JPG', 'e.gif', 'f.TIFF', 'g.tif', 'h.avif', 'i.jpeg']);
  t.is(found[0].path, join(root, 'a', 'c.png'));
});

test('dir: symlinks followed inside the root, not outside; a cycle is walked once', async (t) => {
  const base = tempDir('links');
  const root = join(base, 'root');
  touch(root, 'real/x.png');
  touch(base, 'outside/secret.png');
  symlinkSync(join(base, 'outside'), join(root, 'out-dir'));
  symlinkSync(join(base, 'outside', 'secret.png'), join(root, 'out.png'));
  symlinkSync(join(root, 'real', 'x.png'), join(root, 'alias.png'));
  symlinkSync(root, join(root, 'real', 'loop'));
  symlinkSync(join(base, 'nowhere.png'), join(root, 'dangling.png'));
  const { images: found, skippedLinks } = await listImageDir(root);
  t.deepEqual(found.map((r) => r.id), ['alias.png', 'real/x.png']);
  t.is(skippedLinks, 3);
});

test('manifest: path column by name, optional id column, paths relative to the manifest', async (t) => {
  const root = tempDir('manifest');
  writeFileSync(join(root, 'm.csv'), 'caption,Image,id\n"a, b",imgs/1.png,one\nc,imgs/2.jpg,two\n');
  const rows = await listImageManifest(join(root, 'm.csv'));
  t.deepEqual(rows, [{ id: 'one', path: join(root, 'imgs/1.png') }, { id: 'two', path: join(root, 'imgs/2.jpg') }]);

  writeFileSync(join(root, 'n.csv'), 'path\nz/2.png\n1.png\n');
  t.deepEqual((await listImageManifest(join(root, 'n.csv'))).map((r) => r.id), ['1.png', 'z/2.png']);
  writeFileSync(join(root, 'headerless.csv'), 'x.png\ny.png\n');
  t.deepEqual((await listImageManifest(join(root, 'headerless.csv'))).map((r) => r.id), ['x.png', 'y.png']);
});

test('manifest: a header without a path column is refused, naming the header', async (t) => {
  const root = tempDir('manifest-header');
  writeFileSync(join(root, 'm.csv'), 'label,id\ncat,one\ndog,two\n');
  const err = await t.throwsAsync(listImageManifest(join(root, 'm.csv')));
  t.regex(err!.message, /^manifest .*m\.csv: no path column in the header "label,id" \(name one column path, image or file\)$/);
});

test('folder: files that are not images are counted by extension, hidden files are not', async (t) => {
  const root = tempDir('skipped');
  for (const name of ['a.png', 'notes.txt', 'b.TXT', 'README', '.hidden.txt']) writeFileSync(join(root, name), 'x');
  const listing = await listImageDir(root);
  t.deepEqual(listing.images.map((r) => r.id), ['a.png']);
  t.deepEqual(listing.skippedFiles, { count: 3, byExtension: { '.txt': 2, '(none)': 1 } });
});

test('manifest: paths leaving the folder are refused unless allowed; duplicate ids are refused', async (t) => {
  const root = tempDir('manifest2');
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'm.csv'), 'path\nok.png\n../escape.png\n');
  const err = await t.throwsAsync(listImageManifest(join(root, 'sub', 'm.csv')), { instanceOf: UserError });
  t.regex(err!.message, /line 3: path '\.\.\/escape\.png' leaves the manifest's folder \(pass --allow-outside/);
  const allowed = await listImageManifest(join(root, 'sub', 'm.csv'), { allowOutside: true });
  t.deepEqual(allowed.map((r) => r.path), [join(root, 'escape.png'), join(root, 'sub', 'ok.png')]);

  writeFileSync(join(root, 'dup.csv'), 'id,path\na,1.png\nb,2.png\na,3.png\n');
  await t.throwsAsync(listImageManifest(join(root, 'dup.csv')), { message: /line 4: duplicate id 'a' \(first on line 2\)/ });
  writeFileSync(join(root, 'dup2.csv'), 'path\n1.png\n./1.png\n');
  await t.throwsAsync(listImageManifest(join(root, 'dup2.csv')), { message: /duplicate id '1.png'/ });
});

test('runIngest: planned parts in id order, plan written; a rerun is a no-op; a changed source is refused unless forced', async (t) => {
  const root = tempDir('run-ingest');
  const imgs = join(root, 'imgs');
  touch(imgs, ...Array.from({ length: 7 }, (_, i) => `p${i}.png`));
  const runDir = join(root, 'run');
  const s1 = await runIngest({ source: imgs, runDir, partSize: 3 });
  t.false(s1.skipped);
  t.is(s1.plan.parts, 3);
  t.is(s1.plan.images, 7);
  const dir = stageDir(runDir, 'ingest');
  t.deepEqual(listDoneParts(dir, images.KIND), [0, 1, 2]);
  const ids = [0, 1, 2].flatMap((p) => images.fromTable(readPart(dir, images.KIND, p)).map((r) => r.imageId));
  t.deepEqual(ids, ['p0.png', 'p1.png', 'p2.png', 'p3.png', 'p4.png', 'p5.png', 'p6.png']);

  t.true((await runIngest({ source: imgs, runDir, partSize: 3 })).skipped);
  await t.throwsAsync(runIngest({ source: imgs, runDir, partSize: 4 }), { message: /different part size/ });
  rmSync(join(imgs, 'p6.png'));
  rmSync(join(imgs, 'p5.png'));
  await t.throwsAsync(runIngest({ source: imgs, runDir, partSize: 3 }), { message: /planned from a different images .*--force/ });
  const s3 = await runIngest({ source: imgs, runDir, partSize: 3, force: true });
  t.is(s3.plan.parts, 2);
  t.deepEqual(listDoneParts(dir, images.KIND), [0, 1]); // the stale third part is gone
  t.is(readPlan(runDir)?.images, 5);
});

test('runIngest: one-line errors for a missing source, an empty folder, a bad part size', async (t) => {
  const root = tempDir('ingest-bad');
  await t.throwsAsync(runIngest({ source: join(root, 'nope'), runDir: join(root, 'r') }), { message: /no such file or folder/ });
  mkdirSync(join(root, 'empty'));
  await t.throwsAsync(runIngest({ source: join(root, 'empty'), runDir: join(root, 'r') }), { message: /no images found/ });
  touch(root, 'imgs/a.png');
  await t.throwsAsync(runIngest({ source: join(root, 'imgs'), runDir: join(root, 'r'), partSize: 0 }), { message: /--part-size/ });
});
