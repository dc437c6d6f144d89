/**
 * The index → evaluate / retrieve commands end to end on a random tiny CLIP (full vocabulary, so real
 * captions tokenize): real encoders, a gallery
 * of generated images, synthetic tokens. What is checked is the plumbing (every method runs, tables and
 * files come out, the reference never ranks); the metric arithmetic is checked in the dataset tests.
 */
import test from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { runEvaluate } from '../../pipeline/evaluate-run.ts';
import { runIndex } from '../../pipeline/index-gallery.ts';
import { runRetrieve } from '../../pipeline/retrieve-query.ts';
import { writePart } from '../../schemas/part-io.ts';
import * as tokens from '../../schemas/tokens.ts';
import { Rng } from '../../util/rng.ts';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { fixtures, tempDir, writeOneHotIndex } from './_index.ts';

const names = Array.from({ length: 10 }, (_, i) => `dev-${i}-img0`);

async function setup(dir: string): Promise<void> {
  const imgs = join(dir, 'images', 'dev');
  await mkdir(imgs, { recursive: true });
  for (const [i, n] of names.entries()) {
    const w = 20 + i * 5, h = 16 + (i % 3) * 9;
    const raw = Buffer.alloc(w * h * 3);
    for (let j = 0; j < raw.length; j++) raw[j] = (j * (i + 3) * 37) % 256;
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(imgs, `${n}.png`));
  }
  const queries = names.slice(0, 6).map((n, i) => ({
    pairid: i, reference: n, target_hard: names[(i + 3) % 10], caption: `has ${i + 1} dogs`,
    img_set: { id: i, members: [n, ...names.filter((m) => m !== n).slice(0, 5)] },
  }));
  await mkdir(join(dir, 'cirr', 'captions'), { recursive: true });
  await writeFile(join(dir, 'cirr', 'captions', 'cap.rc2.val.json'), JSON.stringify(queries));
  const rng = new Rng(5);
  const rows = names.map((n): tokens.TokenRow => {
    const v = new Float32Array(64); // the tiny preset's text width
    rng.fillNormal(v);
    return { imageId: `dev/${n}.png`, token: v, ema: v, lcos: 0, lgpt: 0, steps: 1, seed: 0, status: 'ok' };
  });
  await writePart(join(dir, 'idx', 'oti'), tokens.KIND, 0, tokens.toTable(rows, 64), 1);
}

test('index, then evaluate every method and retrieve, on the tiny model', async (t) => {
  const { dir, cleanup } = await tempDir('starword-e2e-');
  t.teardown(cleanup);
  await setup(dir);
  const made = await makeRandomModel({ preset: 'tiny', seed: 3, outDir: join(dir, 'model'), overrides: { imageSize: 64, patchSize: 16 } });
  const model = { model: made.dir, device: 'cpu' as const, cacheDir: join(dir, 'cache'), threads: 1 };
  await runIndex({ ...model, images: join(dir, 'images'), out: join(dir, 'idx'), partSize: 4, batchSize: 4, preprocess: 'targetpad' });

  const out = new PassThrough();
  let text = '';
  out.on('data', (c) => { text += String(c); });
  const table = await runEvaluate({
    ...model, dataset: 'cirr', annotations: join(dir, 'cirr'), index: join(dir, 'idx'), tokens: join(dir, 'idx'),
    method: 'all', split: 'val', out: join(dir, 'report', 'cirr.json'), blockRows: 3, quiet: true,
  }, out);
  const reports = table.reports;
  t.deepEqual(table.rows.map((r) => [r.method, r.status]), [['image', 'ok'], ['text', 'ok'], ['sum', 'ok'], ['searle-oti', 'ok'],
    ['searle', 'skipped'], ['pic2word', 'skipped'], ['lincir', 'skipped'], ['captioning', 'skipped'], ['cirevl', 'skipped']]);
  t.regex(table.rows[4].reason ?? '', /no phi network: give --phi FILE \(the --tokens are the searle-oti row\)/);
  t.regex(table.rows[6].reason ?? '', /no LinCIR mapper: give --lincir PATH/);
  t.regex(table.rows[7].reason ?? '', /--caption-model/);
  t.regex(text.split('\n')[0], /^cirr val\s+R@1\s+R@5\s+R@10\s+R@50\s+Rsubset@1\s+Rsubset@2\s+Rsubset@3$/);
  t.regex(text, /\npic2word\s+\(not run: no Pic2Word mapper: give --pic2word FILE/);
  for (const r of reports) {
    t.deepEqual(r.gallery, { '': 10 });
    t.is(r.metrics['R@50'], 100); // 10 images, every target indexed
    t.deepEqual(r.unanswerable, []);
  }
  // the bar chart and the curves came out as PNGs, the table as JSON, Markdown and CSV
  for (const f of ['cirr.png', 'cirr-curves.png']) t.is((await sharp(join(dir, 'report', f)).metadata()).format, 'png');
  t.deepEqual(JSON.parse(await readFile(join(dir, 'report', 'cirr.json'), 'utf8')).rows.map((r: { method: string }) => r.method), table.rows.map((r) => r.method));
  t.regex(await readFile(join(dir, 'report', 'cirr.md'), 'utf8'), /^\| cirr val \| R@1 \|/);
  t.regex(await readFile(join(dir, 'report', 'cirr.csv'), 'utf8'), /^method,status,R@1,/);

  for (const method of ['searle', 'sum'] as const) {
    const lines = new PassThrough();
    let got = '';
    lines.on('data', (c) => { got += String(c); });
    await runRetrieve({
      ...model, index: join(dir, 'idx'), tokens: join(dir, 'idx'), reference: method === 'sum' ? join(dir, 'images', 'dev', 'dev-0-img0.png') : 'dev-0-img0',
      caption: ['has 1 dogs'], method, topK: 5, preprocess: 'targetpad', blockRows: 4,
    }, lines);
    const hits = got.trim().split('\n').map((l) => JSON.parse(l) as { id: string; score: number; rank: number });
    t.deepEqual(hits.map((h) => h.rank), [1, 2, 3, 4, 5]);
    t.false(hits.some((h) => h.id === 'dev/dev-0-img0.png'), `${method}: the reference is excluded`);
    t.true(hits.every((h, i) => i === 0 || hits[i - 1].score >= h.score));
  }
});

test('evaluate with the image method needs no model; a bad dataset or method is one clear line', async (t) => {
  const { dir, cleanup } = await tempDir('starword-e2e-');
  t.teardown(cleanup);
  await writeOneHotIndex(dir, ['dev/a.png', 'dev/b.png', 'dev/c.png', 'dev/d.png', 'dev/e.png', 'dev/f.png', 'dev/g.png', 'dev/h.png'], [8]);
  const base = { device: 'cpu' as const, annotations: join(fixtures, 'cirr'), index: dir, split: 'val', blockRows: 8192, quiet: true };
  const { reports } = await runEvaluate({ ...base, dataset: 'cirr', method: 'image' }, new PassThrough());
  // one-hot features: every other image scores 0, so rankings follow gallery order after the reference:
  // 101 a → b c …: c at 2; 102 b → a c d e f g h: h at 7; 103 missing; 104 d → a b c e: e at 4.
  t.is(reports[0].metrics['R@1'], 0);
  t.is(reports[0].metrics['R@5'], 50);
  t.is(reports[0].metrics['R@10'], 75);
  await t.throwsAsync(runEvaluate({ ...base, dataset: 'coco', method: 'image' }, new PassThrough()), { message: /--dataset must be one of cirr, circo, fashioniq/ });
  await t.throwsAsync(runEvaluate({ ...base, dataset: 'cirr', method: 'magic' }, new PassThrough()), { message: /--method must be all or a list of image, text/ });
  await t.throwsAsync(runEvaluate({ ...base, dataset: 'cirr', methods: 'image', method: 'image' }, new PassThrough()), { message: /not both/ });
  // a method that cannot run keeps its row with the reason; the others still run
  const { rows } = await runEvaluate({ ...base, dataset: 'cirr', methods: 'searle,text,image' }, new PassThrough());
  t.deepEqual(rows.map((r) => [r.method, r.status, r.reason]), [
    ['searle', 'skipped', 'no tokens: give --phi FILE (or --tokens PATH)'], ['text', 'skipped', 'needs CLIP\'s text tower: give --model DIR'], ['image', 'ok', undefined]]);
});
