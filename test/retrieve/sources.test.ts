import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as features from '../../schemas/features.ts';
import { writePart } from '../../schemas/part-io.ts';
import * as tokens from '../../schemas/tokens.ts';
import { PartsGallery, galleryIds } from '../../stages/retrieve/gallery.ts';
import { IdResolver, idKey } from '../../stages/retrieve/id-resolver.ts';
import { locateParts, partsTokenProvider, phiTokenProvider } from '../../stages/retrieve/sources.ts';
import { readTokens } from '../../stages/retrieve/tokens.ts';
import { tempDir } from '../evaluate/_index.ts';

const tok = (id: string, v: number[] | null, status: tokens.TokenStatus = 'ok'): tokens.TokenRow => ({
  imageId: id, token: v && Float32Array.from(v.map((x) => -x)), ema: v && Float32Array.from(v), lcos: 0, lgpt: 0, steps: 1, seed: 0, status,
});

test('id keys: stems, leading zeros of numeric names; exact ids win; shared stems are ambiguous', (t) => {
  t.is(idKey('unlabeled2017/000000271520.jpg'), '271520');
  t.is(idKey('271520'), '271520');
  t.is(idKey('dev/dev-190-0-img0.png'), 'dev-190-0-img0');
  t.is(idKey('0'), '0');
  const r = new IdResolver(['a/x.png', 'b/x.jpg', 'c/y.png', 'z']);
  t.is(r.resolve('y'), 'c/y.png');
  t.is(r.resolve('z'), 'z');
  t.is(r.resolve('x'), undefined);
  t.true(r.ambiguous('x'));
  t.is(r.resolve('a/x.png'), 'a/x.png');
});

test('tokens: the EMA column of the tokens parts, failed rows skipped, matched exactly or by stem', async (t) => {
  const { dir, cleanup } = await tempDir('starword-tok-');
  t.teardown(cleanup);
  const run = join(dir, 'run');
  const oti = join(run, 'oti');
  await writePart(oti, tokens.KIND, 0, tokens.toTable([tok('imgs/a.png', [1, 2]), tok('imgs/b.png', null, 'failed')], 2), 1);
  await writePart(oti, tokens.KIND, 1, tokens.toTable([tok('imgs/c.png', [5, 6]), tok('imgs/d.png', [7, 8], 'failed')], 2), 1);
  const got = readTokens(oti, ['imgs/a.png', 'b', 'c', 'd', 'e']);
  t.deepEqual([...got.keys()].sort(), ['c', 'imgs/a.png']);
  t.deepEqual(Array.from(got.get('c')!), [5, 6]); // ema, not the raw token (-5, -6)
  t.deepEqual(Array.from(readTokens(oti, ['c'], { column: 'token' }).get('c')!), [-5, -6]);
  // a run folder is followed to its oti/ folder
  t.is(locateParts(run, 'tokens', 'oti', '--tokens'), oti);
  const provider = partsTokenProvider(run);
  t.false(provider.needsFeatures);
  t.deepEqual([...(await provider.tokens(['imgs/a.png'], new Map())).keys()], ['imgs/a.png']);
  await mkdir(join(dir, 'empty'));
  t.throws(() => locateParts(join(dir, 'empty'), 'tokens', 'oti', '--tokens'), { message: /no done 'tokens' parts/ });
});

test('the embed stage\'s features parts (image_id column) serve as the gallery', async (t) => {
  const { dir, cleanup } = await tempDir('starword-feat-');
  t.teardown(cleanup);
  const rows = [{ imageId: 'p', features: Float32Array.from([1, 0]) }, { imageId: 'q', features: Float32Array.from([0, 2]) }];
  await writePart(join(dir, 'embed'), features.KIND, 0, features.toTable(rows, 2), 1);
  const g = new PartsGallery(locateParts(dir, 'features', 'embed', '--index'));
  t.deepEqual(await galleryIds(g), ['p', 'q']);
  for await (const b of g.blocks(10)) t.deepEqual(Array.from(b.vectors), [1, 0, 0, 2]);
});

test('phi tokens: predicted from the references\' features, only for those that have them', async (t) => {
  const seen: number[][] = [];
  const provider = phiTokenProvider({ async predict(f) { seen.push(...f.map((v) => Array.from(v))); return f.map((v) => Float32Array.from(v, (x) => x * 2)); } });
  t.true(provider.needsFeatures);
  const out = await provider.tokens(['a', 'b'], new Map([['b', Float32Array.from([1, 3])]]));
  t.deepEqual(seen, [[1, 3]]);
  t.deepEqual([...out.keys()], ['b']);
  t.deepEqual(Array.from(out.get('b')!), [2, 6]);
});
