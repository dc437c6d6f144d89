/**
 * The readers beside the training stages check the model too: retrieve's gallery and tokens readers,
 * `invert --features`, `export searle` and `oti --init-from` refuse features/tokens parts whose marker
 * records another model than the one the command is given, in one line naming the part and both models
 * (exit 2 from the CLI).
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableToIPC } from 'apache-arrow';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import { modelHash } from '../../clip/weights/clip-model.ts';
import { exportSearle } from '../../pipeline/searle-export.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as features from '../../schemas/features.ts';
import * as tokens from '../../schemas/tokens.ts';
import { readPart, writePart } from '../../schemas/part-io.ts';
import { stageDir } from '../../schemas/run-layout.ts';
import { readInitTokens } from '../../stages/oti/init-from.ts';
import { loadFeatureSet } from '../../stages/pic2word/dataset.ts';
import { invertFeatures } from '../../stages/phi/invert.ts';
import { PartsGallery, galleryIds } from '../../stages/retrieve/gallery.ts';
import { readTokens } from '../../stages/retrieve/tokens.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../embed/helpers.ts';
import { BIN, runSync } from '../helpers/pipeline-run.ts';

const IDS = ['x', 'y'];

async function featuresPart(dir: string, model: string | undefined, dim = 2): Promise<void> {
  const rows = IDS.map((imageId, i) => ({ imageId, features: Float32Array.from({ length: dim }, (_, j) => i + j + 1) }));
  await writePart(dir, features.KIND, 0, features.toTable(rows, dim), SCHEMA_VERSION, { dim }, model ? { modelHash: model } : undefined);
}

async function tokensPart(dir: string, model: string): Promise<void> {
  await writePart(dir, tokens.KIND, 0, tokens.toTable(IDS.map((imageId, i) => ({
    imageId, token: Float32Array.of(1, 2), ema: Float32Array.of(1, 2), lcos: 0.5, lgpt: 0.5, steps: 3, seed: i, status: 'ok' as const, error: null,
  })), 2), SCHEMA_VERSION, {}, { modelHash: model });
}

const OTHER = /made with another model \(model-b, this model is model-a\)/;

test('readPart with expectModelHash refuses a part of another model in one line; the same model, or none recorded, passes', async (t) => {
  const dir = tempDir('readpart-model');
  await featuresPart(dir, 'model-b');
  const err = t.throws(() => readPart(dir, features.KIND, 0, { expectModelHash: 'model-a' }), { instanceOf: UserError });
  t.regex(err!.message, /features-00000\.stats\.json: made with another model \(model-b, this model is model-a\); rerun the stage/);
  t.is(err!.exitCode, 2);
  t.false(err!.message.includes('\n'));
  t.is(readPart(dir, features.KIND, 0, { expectModelHash: 'model-b' }).numRows, 2);
  const legacy = tempDir('readpart-nomodel');
  await featuresPart(legacy, undefined);
  t.is(readPart(legacy, features.KIND, 0, { expectModelHash: 'model-a' }).numRows, 2);
});

test('the gallery and tokens readers refuse parts (and single files) of another model than the one they are given', async (t) => {
  const root = tempDir('retrieve-model');
  const embed = join(root, 'embed');
  await featuresPart(embed, 'model-b');
  await t.throwsAsync(galleryIds(new PartsGallery(embed, { modelHash: 'model-a' })), { instanceOf: UserError, message: OTHER });
  t.deepEqual(await galleryIds(new PartsGallery(embed, { modelHash: 'model-b' })), IDS);
  // --method image needs no model: nothing to check against
  t.deepEqual(await galleryIds(new PartsGallery(embed)), IDS);

  const oti = join(root, 'oti');
  await tokensPart(oti, 'model-b');
  t.throws(() => readTokens(oti, IDS, { modelHash: () => 'model-a' }), { instanceOf: UserError, message: OTHER });
  t.is(readTokens(oti, IDS, { modelHash: () => 'model-b' }).size, 2);

  // one .arrow file: its starword.model_hash metadata is what it was made with
  const file = join(root, 'tokens.arrow');
  const table = tokens.toTable(IDS.map((imageId) => ({ imageId, token: Float32Array.of(1, 2), ema: Float32Array.of(1, 2), lcos: 0, lgpt: 0, steps: 1, seed: 0,
    status: 'ok' as const, error: null })), 2, { 'starword.model_hash': 'model-b' });
  writeFileSync(file, tableToIPC(table, 'stream'));
  t.throws(() => readTokens(file, IDS, { modelHash: () => 'model-a' }), { instanceOf: UserError, message: /tokens\.arrow: made with another model/ });
});

test('invert --features and export searle refuse parts of another model than theirs', async (t) => {
  const root = tempDir('invert-export-model');
  const embed = join(root, 'embed');
  await featuresPart(embed, 'model-b');
  const mapper = { inputDim: 2, outputDim: 2, predict: async (f: Float32Array[]) => f.map((x) => x.slice()) };
  await t.throwsAsync(invertFeatures(embed, join(root, 'inv-a'), mapper, {}, undefined, 'model-a'), { instanceOf: UserError, message: OTHER });
  t.is((await invertFeatures(embed, join(root, 'inv-b'), mapper, {}, undefined, 'model-b')).ok, 2);
  // the tokens invert writes record the features' model (also without --model), so their readers check it
  t.is((await invertFeatures(embed, join(root, 'inv-c'), mapper)).ok, 2);
  t.throws(() => readTokens(join(root, 'inv-c'), IDS, { modelHash: () => 'model-a' }), { instanceOf: UserError, message: OTHER });
  t.is(readTokens(join(root, 'inv-c'), IDS, { modelHash: () => 'model-b' }).size, 2);
  // oti --init-from reads them with OTI's model
  t.throws(() => readInitTokens(join(root, 'inv-c'), 2, 'model-a'), { instanceOf: UserError, message: /--init-from .*made with another model \(model-b, this model is model-a\)/ });
  t.is(readInitTokens(join(root, 'inv-c'), 2, 'model-b').size, 2);

  const runDir = join(root, 'run');
  await tokensPart(stageDir(runDir, 'oti'), 'model-b');
  const o = { runDir, outDir: join(root, 'searle'), dataset: 'imagenet', split: 'test', expName: 'e', gptExpName: 'g', clipModelName: 'ViT-B/32', names: 'id' as const };
  await t.throwsAsync(exportSearle({ ...o, modelHash: 'model-a' }), { instanceOf: UserError, message: /oti\/tokens-00000\.stats\.json: made with another model \(model-b, this model is model-a\); rerun oti with this model/ });
  t.is((await exportSearle({ ...o, modelHash: 'model-b' })).images, 2);
});

test('retrieve --model refuses an index another model of the same width embedded (exit 2, one line); --method image by id needs no model', async (t) => {
  const root = tempDir('retrieve-cli-model');
  const model = join(root, 'model');
  await makeRandomModel({ preset: 'tiny', seed: 3, outDir: model });
  const dim = (JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { projection_dim: number }).projection_dim;
  const own = join(root, 'own'), foreign = join(root, 'foreign');
  await featuresPart(own, await modelHash(model), dim);
  await featuresPart(foreign, 'f'.repeat(64), dim);
  const query = (index: string, extra: string[]) => runSync([BIN, 'retrieve', '--index', index, '--reference', 'x', '--caption', 'a red one',
    '--top-k', '1', '--threads', '1', '--cache-dir', join(root, 'cache'), ...extra]);

  const refused = query(foreign, ['--method', 'text', '--model', model]);
  t.is(refused.status, 2, refused.stderr);
  t.regex(refused.stderr.trim(), /^starword: .*foreign\/features-00000\.stats\.json: made with another model \(f{16}, this model is [0-9a-f]{16}\); embed these images with this model/);
  t.is(refused.stderr.trim().split('\n').length, 1, refused.stderr);

  const ok = query(own, ['--method', 'text', '--model', model]);
  t.is(ok.status, 0, ok.stderr);
  t.is(JSON.parse(ok.stdout.trim().split('\n')[0]).id, 'y');
  const imageOnly = query(foreign, ['--method', 'image']);
  t.is(imageOnly.status, 0, imageOnly.stderr);
});

test('Pic2Word\'s features reader refuses parts and single files of another model than the one it trains with', async (t) => {
  const root = tempDir('pic2word-model');
  const embed = join(root, 'embed');
  await featuresPart(embed, 'model-b');
  t.throws(() => loadFeatureSet(root, 'source', 'model-a'), { instanceOf: UserError, message: OTHER });
  t.is(loadFeatureSet(root, 'source', 'model-b').examples.length, 2);
  // a lone .arrow file is checked by the model hash in its metadata
  const lone = tempDir('pic2word-lone');
  const rows = IDS.map((imageId, i) => ({ imageId, features: Float32Array.of(i + 1, i + 2) }));
  writeFileSync(join(lone, 'features.arrow'), tableToIPC(features.toTable(rows, 2, { 'starword.model_hash': 'model-b' }), 'stream'));
  t.is(loadFeatureSet(join(lone, 'features.arrow'), 'source', 'model-b').examples.length, 2);
  t.throws(() => loadFeatureSet(join(lone, 'features.arrow'), 'source', 'model-a'), { instanceOf: UserError, message: /made with another model/ });
});
