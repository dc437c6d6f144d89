/**
 * `bench scale`'s dims are options: the random model, the synthetic image features and phrase targets
 * take --text-width and --projection; bad values are refused in one line before any work.
 */
import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { benchScale, type BenchScaleOptions } from '../../pipeline/bench/scale.ts';
import * as featuresSchema from '../../schemas/features.ts';
import { readPart } from '../../schemas/part-io.ts';
import { storeFile } from '../../schemas/phrase-store.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../helpers/test-utils.ts';

const base = (out: string): BenchScaleOptions => ({
  out, images: 30, concepts: 12, phrasesPerConcept: 3, partSize: 20, otiTopK: 2, phiTopK: 4, otiSteps: 1, phiEpochs: 1,
  threads: 1, preset: 'tiny', textWidth: 128, projection: 96, stages: [],
});

test('--text-width and --projection set the model, the image features and the phrase targets', async (t) => {
  const out = tempDir('bench-scale', t.teardown);
  const figures = await benchScale(base(out), () => {});
  t.true(figures.some((f) => f.stage.startsWith('make-model (tiny, text 128, projection 96')));
  const model = await loadClipModel(join(out, 'model-tiny-t128-p96'));
  t.like(model.config.text, { width: 128, heads: 2, mlp: 512, layers: 1 });
  t.is(model.config.projectionDim, 96);
  t.is(featuresSchema.fromTable(readPart(join(out, 'run', 'embed'), featuresSchema.KIND, 0)).dim, 96);
  const targets = storeFile(join(out, 'run', 'phrases'), 0, 'targets.f32');
  t.true(existsSync(targets));
  t.is(statSync(targets).size, 12 * 3 * 96 * 4, 'targets hold 96 floats a phrase');
});

test('bad dims and presets are refused in one line naming the option', async (t) => {
  const out = tempDir('bench-scale', t.teardown);
  for (const [change, pattern] of [
    [{ textWidth: 100 }, /^--text-width 100: must be a multiple of 64/],
    [{ projection: 0 }, /^--projection must be a positive integer, got 0$/],
    [{ preset: 'huge' }, /^--preset: unknown preset 'huge' \(choose tiny, b32, l14, h14, bigg\)$/],
  ] as const) {
    const err = await t.throwsAsync(benchScale({ ...base(out), ...change } as BenchScaleOptions, () => {}), { instanceOf: UserError });
    t.regex(err?.message ?? '', pattern);
  }
  t.false(existsSync(join(out, 'run')), 'nothing made before the check');
});
