/**
 * Every part records the model it was made with, and every reader checks it against the model it is
 * given: two CLIPs of one width (ViT-B/32 and B/16 are both 512-d) must never mix silently.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectRun } from '../../pipeline/inspect-run.ts';
import { openRunManifest } from '../../pipeline/run-manifest.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as features from '../../schemas/features.ts';
import * as images from '../../schemas/images.ts';
import * as phrasesSchema from '../../schemas/phrases.ts';
import * as tokens from '../../schemas/tokens.ts';
import { readPartStats, writePart } from '../../schemas/part-io.ts';
import { PhraseStore } from '../../schemas/phrase-store.ts';
import { stageDir, writePlan } from '../../schemas/run-layout.ts';
import { loadPhiExamples } from '../../stages/phi/dataset.ts';
import { runPhrases } from '../../stages/phrases/run-phrases.ts';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../embed/helpers.ts';
import { runConcepts } from '../../stages/concepts/run-concepts.ts';
import { FakeTextEncoder } from '../concepts/_helpers.ts';

const encoder: TextEncoder = {
  dim: 2, width: 4,
  encodeIds: async (ids) => ids.map(() => new Float32Array(2)),
  encodeTexts: async (texts) => texts.map((s) => Float32Array.of(s.length, 1)),
};

test('phrases markers record the model that embedded their targets; a store opened for another model refuses them in one line', async (t) => {
  const dir = tempDir('foreign-phrases');
  await runPhrases({ concepts: ['cat', 'dog'], outDir: dir, backend: 'templates', countTokens: (s) => s.split(/\s+/).length + 2, env: {},
    sampling: { n: 2 }, textEncoder: encoder, textEncoderId: 'model-a' });
  t.is(readPartStats(dir, phrasesSchema.KIND, 0).provenance?.modelHash, 'model-a');
  const ok = await PhraseStore.open(dir, { dim: 2, modelHash: 'model-a' });
  t.true(ok.phraseCount > 0);
  ok.close();
  const err = await t.throwsAsync(PhraseStore.open(dir, { dim: 2, modelHash: 'model-b' }), { instanceOf: UserError });
  t.regex(err!.message, /phrases-00000\.stats\.json: phrases embedded by another model \(model-a, this model is model-b\)/);
  t.false(err!.message.includes('\n'));
});

async function runWith(root: string, featuresModel: string, tokensModel: string): Promise<string> {
  const runDir = join(root, 'run');
  openRunManifest(runDir, { config: {}, model: { dir: 'm', hash: 'model-a' }, sources: {}, seeds: {}, shard: { index: 0, count: 1 } });
  const ids = ['x', 'y'];
  await writePart(stageDir(runDir, 'ingest'), images.KIND, 0, images.toTable(ids.map((imageId) => ({ imageId, path: `/${imageId}.png`, shard: 0 }))), SCHEMA_VERSION);
  writePlan(runDir, {
    format: 'starword-plan', version: 1, source: { type: 'dir', path: '/' }, sourceImages: 2, sourceHash: 'h', shard: { index: 0, count: 1 },
    partSize: 2, images: 2, parts: 1, planHash: 'p',
  });
  await writePart(stageDir(runDir, 'embed'), features.KIND, 0, features.toTable(ids.map((imageId) => ({ imageId, features: Float32Array.of(1, 2) })), 2),
    SCHEMA_VERSION, { dim: 2 }, { modelHash: featuresModel });
  await writePart(stageDir(runDir, 'oti'), tokens.KIND, 0, tokens.toTable(ids.map((imageId, i) => ({
    imageId, token: Float32Array.of(1, 2), ema: Float32Array.of(1, 2), lcos: 0.5, lgpt: 0.5, steps: 3, seed: i, status: 'ok' as const, error: null,
  })), 2), SCHEMA_VERSION, {}, { modelHash: tokensModel });
  return runDir;
}

test('phi refuses features or tokens parts made with another model than the one it is given, naming the part', async (t) => {
  const runDir = await runWith(tempDir('foreign-phi'), 'model-a', 'model-b');
  const dirs = { embedDir: stageDir(runDir, 'embed'), otiDir: stageDir(runDir, 'oti'), conceptsDir: stageDir(runDir, 'concepts') };
  t.throws(() => loadPhiExamples(dirs, 5, 'model-a'), { instanceOf: UserError, message: /tokens-00000\.stats\.json: made with another model \(model-b, this model is model-a\)/ });
  t.throws(() => loadPhiExamples(dirs, 5, 'model-b'), { instanceOf: UserError, message: /features-00000\.stats\.json: made with another model/ });
});

test('the concepts stage refuses features parts made with another model, naming the part', async (t) => {
  const root = tempDir('foreign-concepts');
  const featuresDir = join(root, 'embed');
  const vocabPath = join(root, 'vocab.txt');
  writeFileSync(vocabPath, 'cat\ndog\ntree\ncar\n');
  await writePart(featuresDir, features.KIND, 0, features.toTable([{ imageId: 'x', features: Float32Array.from({ length: 16 }, (_, i) => i) }], 16),
    SCHEMA_VERSION, { dim: 16 }, { modelHash: 'model-b' });
  await t.throwsAsync(runConcepts({ featuresDir, outDir: join(root, 'concepts'), cacheDir: join(root, 'cache'), textEncoder: new FakeTextEncoder(16),
    modelHash: 'model-a', topK: 3, vocabPath }),
  { instanceOf: UserError, message: /features-00000\.stats\.json: made with another model \(model-b, this model is model-a\); rerun the embed stage/ });
});

test('inspect --verify fails a part made with another model than the run\'s', async (t) => {
  const runDir = await runWith(tempDir('foreign-inspect'), 'model-a', 'model-b');
  const report = inspectRun(runDir, 'full');
  t.deepEqual(report.integrity.bad.map((b) => b.reason), ['made with another model (model-b, this run\'s model is model-a)']);
  t.regex(report.integrity.bad[0].path, /oti\/tokens-00000\.stats\.json$/);
});
