/**
 * A small run of the vendored toy world for the report and serve tests: 6 CIRCO references + 6
 * unlabeled images + one broken file through the whole pipeline (3 OTI steps, 2 phi epochs), a
 * 40-image gallery index holding those queries' ground truths, and the 6 queries evaluated with
 * `evaluate --out --rankings`. Everything through the CLI, as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, testCacheDir } from './test-utils.ts';

export const TOY = fileURLToPath(new URL('../../data/toyworld/', import.meta.url));
export const TOY_MODEL = join(TOY, 'model');
export const BIN = fileURLToPath(new URL('../../bin/starword.js', import.meta.url));

export interface ToyRun { root: string; run: string; gallery: string; evalDir: string; cache: string; galleryIds: string[]; queries: number; images: number }

export function starword(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]): string {
  const r = starword(args);
  if (r.status !== 0) throw new Error(`starword ${args[0]} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

const name = (id: number | string) => `${String(id).padStart(6, '0')}.png`;

/** `pipeline: false`: only the gallery index (what serve needs). */
export function makeToyRun(opts: { pipeline?: boolean } = {}): ToyRun {
  const root = tempDir('toy');
  const cache = testCacheDir(); // this test process's graph cache, shared by its toy runs
  const queries = (JSON.parse(readFileSync(join(TOY, 'bench/circo/annotations/val.json'), 'utf8')) as { reference_img_id: number; gt_img_ids: number[] }[]).slice(0, 6);
  // the gallery: the queries' references and ground truths, then the first other images up to 40
  const want = new Set(queries.flatMap((q) => [name(q.reference_img_id), ...q.gt_img_ids.map(name)]));
  for (const n of readdirSync(join(TOY, 'bench/gallery')).sort()) { if (want.size >= 40) break; want.add(n); }
  const galleryDir = join(root, 'gallery-images');
  mkdirSync(galleryDir);
  for (const n of want) copyFileSync(join(TOY, 'bench/gallery', n), join(galleryDir, n));
  mkdirSync(join(root, 'circo/annotations'), { recursive: true });
  writeFileSync(join(root, 'circo/annotations/val.json'), JSON.stringify(queries));
  // the run's images: the references (ids as in the gallery) + unlabeled ones + a broken file
  writeFileSync(join(root, 'broken.png'), 'not a png\n');
  const lines = ['path,id', ...queries.map((q) => `${join(TOY, 'bench/gallery', name(q.reference_img_id))},${name(q.reference_img_id)}`),
    ...readdirSync(join(TOY, 'phi-train')).sort().slice(0, 6).map((n) => `${join(TOY, 'phi-train', n)},phi-train/${n}`),
    `${join(root, 'broken.png')},broken.png`];
  writeFileSync(join(root, 'images.csv'), `${[...new Set(lines)].join('\n')}\n`);
  const run = join(root, 'run'), gallery = join(root, 'gallery'), evalDir = join(root, 'eval');
  ok(['index', '--model', TOY_MODEL, '--images', galleryDir, '--out', gallery, '--cache-dir', cache, '--threads', '1']);
  if (opts.pipeline === false) return { root, run, gallery, evalDir, cache, galleryIds: [...want].sort(), queries: queries.length, images: 0 };
  ok(['run', '--images', join(root, 'images.csv'), '--allow-outside', '--model', TOY_MODEL, '--out', run, '--vocab', join(TOY, 'bench/vocab.txt'),
    '--top-k', '12', '--oti-top-k', '12', '--phi-top-k', '12', '--cache-dir', cache, '--backend', 'templates', '--n', '4', '--oti-steps', '3', '--phi', '--phi-epochs', '2', '--phi-batch', '4',
    '--threads', '1']);
  ok(['evaluate', '--dataset', 'circo', '--annotations', join(root, 'circo'), '--index', gallery, '--tokens', run, '--method', 'all',
      '--model', TOY_MODEL, '--cache-dir', cache, '--threads', '1', '--out', join(evalDir, 'eval.json'), '--rankings', join(evalDir, 'rankings.jsonl'), '--quiet']);
  return { root, run, gallery, evalDir, cache, galleryIds: [...want].sort(), queries: queries.length, images: lines.length - 1 };
}
