/**
 * The vendored toy world (data/toyworld, see its README): a tiny CLIP trained on coloured shapes, a
 * 1,024-image gallery with a 100-query CIRCO benchmark, and unlabeled images for phi. The demo's input
 * manifest is the benchmark's reference images plus some unlabeled ones, and two broken files that the
 * run must record as failures and go past.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { packagePath } from '../../util/package-root.ts';

export const TOY_WORLD = packagePath('data', 'toyworld');

export const toyWorld = {
  model: join(TOY_WORLD, 'model'),
  vocab: join(TOY_WORLD, 'bench', 'vocab.txt'),
  gallery: join(TOY_WORLD, 'bench', 'gallery'),
  circo: join(TOY_WORLD, 'bench', 'circo'),
  refs: join(TOY_WORLD, 'bench', 'refs.csv'),
  phiTrain: join(TOY_WORLD, 'phi-train'),
};

/**
 * Writes `<dir>/images.csv` (path,id): the CIRCO references (ids as in the gallery, so their tokens
 * answer the benchmark's queries), `unlabeled` phi-train images, and two broken files made in `<dir>/broken/`.
 */
export async function writeDemoManifest(dir: string, unlabeled: number): Promise<{ manifest: string; references: number; unlabeled: number; broken: number }> {
  await mkdir(join(dir, 'broken'), { recursive: true });
  const refs = parse(readFileSync(toyWorld.refs, 'utf8'), { columns: true, skip_empty_lines: true }) as { path: string; id: string }[];
  const rows = refs.map((r) => [join(TOY_WORLD, 'bench', r.path), r.id]);
  const train = readdirSync(toyWorld.phiTrain).filter((n) => n.endsWith('.png')).sort().slice(0, unlabeled);
  for (const n of train) rows.push([join(toyWorld.phiTrain, n), `phi-train/${n}`]);
  // what a real folder holds now and then: a PNG cut short, and a text file named .png
  const png = readFileSync(join(toyWorld.phiTrain, train[0] ?? readdirSync(toyWorld.phiTrain)[0]));
  await writeFile(join(dir, 'broken', 'truncated.png'), png.subarray(0, Math.floor(png.length / 3)));
  await writeFile(join(dir, 'broken', 'not-an-image.png'), 'this is a text file, not a PNG\n');
  rows.push([join(dir, 'broken', 'truncated.png'), 'broken/truncated.png'], [join(dir, 'broken', 'not-an-image.png'), 'broken/not-an-image.png']);
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const manifest = join(dir, 'images.csv');
  await writeFile(manifest, `path,id\n${rows.map((r) => r.map(quote).join(',')).join('\n')}\n`);
  return { manifest, references: refs.length, unlabeled: train.length, broken: 2 };
}
