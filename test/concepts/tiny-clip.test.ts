/**
 * The concepts stage on a real CLIP text encoder (ONNX Runtime): the tiny golden model, and a tiny
 * random model with the real CLIP vocabulary driven through the `starword concepts` command.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TextEncoder } from '../../clip/towers/encoder-types.ts';
import { createTextEncoder } from '../../clip/towers/text-encoder.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { makeRandomModel } from '../../clip/weights/make-model.ts';
import * as concepts from '../../schemas/concepts.ts';
import { readPart } from '../../schemas/part-io.ts';
import { computeVocabFeatures } from '../../stages/concepts/vocab-features.ts';
import { fillTemplate, loadTemplates } from '../../clip/text/templates.ts';
import { topKCosine } from '../../stages/concepts/topk.ts';
import { Rng } from '../../util/rng.ts';
import { bruteTopK, randomVectors, tempDir, writeFeatureParts } from './_helpers.ts';

const MODEL_DIR = 'test/fixtures/tiny-clip/model';
const golden = JSON.parse(readFileSync('test/fixtures/tiny-clip/golden.json', 'utf8')) as {
  sot: number; eot: number; image: { features: number[][] };
};

/**
 * The golden model's vocabulary has only 1000 ids (SOT 998, EOT 999), so prompts cannot go through the
 * CLIP tokenizer: each prompt's bytes become ids 1..997 instead, and the real tower encodes those.
 */
class ByteIdsEncoder implements TextEncoder {
  calls = 0;
  constructor(private readonly inner: TextEncoder) {}
  get dim(): number { return this.inner.dim; }
  get width(): number { return this.inner.width; }
  static ids(text: string): Int32Array {
    const bytes = [...Buffer.from(text.trim().replace(/\s+/g, ' ').toLowerCase())].slice(0, 75);
    return Int32Array.from([golden.sot, ...bytes.map((b) => 1 + (b % 997)), golden.eot]);
  }
  async encodeTexts(texts: string[]): Promise<Float32Array[]> {
    this.calls++;
    return this.inner.encodeIds(texts.map(ByteIdsEncoder.ids));
  }
  encodeIds(ids: Int32Array[]): Promise<Float32Array[]> { return this.inner.encodeIds(ids); }
}

const NAMES = ['cat', 'dog', 'red car', 'Ducks, geese and swans', 'tree', 'sky', 'a boat', 'green apple', 'bridge',
  'snowman', 'bicycle', 'mountain', 'river', 'chair', 'lamp', 'violin', 'pizza', 'clock', 'kite', 'owl'];

test('tiny golden model: ensemble features and top-k agree with a direct computation and brute-force cosine', async (t) => {
  const model = await loadClipModel(MODEL_DIR);
  const real = await createTextEncoder(model, { threads: 1, cacheDir: tempDir('graphs') });
  const enc = new ByteIdsEncoder(real);
  const templates = loadTemplates();
  const cacheDir = tempDir('tiny-cache');
  const vf = await computeVocabFeatures({ names: NAMES, templates, textEncoder: enc, modelHash: model.hash, cacheDir, batchSize: 7 });
  t.is(vf.features.dim, 24);

  // one name done by hand through the real tower
  const direct = await real.encodeIds(templates.map((tpl) => ByteIdsEncoder.ids(fillTemplate(tpl, NAMES[3]))));
  const mean = new Float64Array(24);
  for (const f of direct) { const n = Math.hypot(...f); f.forEach((x, d) => { mean[d] += x / n; }); }
  const mn = Math.hypot(...mean);
  for (let d = 0; d < 24; d++) t.true(Math.abs(vf.features.matrix[3 * 24 + d] - mean[d] / mn) < 1e-5);

  const images = [...golden.image.features.map((f) => Float32Array.from(f)), ...randomVectors(new Rng(5), 6, 24)];
  const tops = topKCosine(images, vf.features.matrix, 24, 8);
  images.forEach((img, i) => {
    const ref = bruteTopK(img, vf.features.matrix, 24, 8);
    t.deepEqual(Array.from(tops[i].indices), ref.map((r) => r.i));
    t.true(ref.every((r, j) => Math.abs(r.s - tops[i].scores[j]) < 1e-6));
  });

  const again = new ByteIdsEncoder(real);
  t.true((await computeVocabFeatures({ names: NAMES, templates, textEncoder: again, modelHash: model.hash, cacheDir })).cacheHit);
  t.is(again.calls, 0);
});

const run = promisify(execFile);

test('starword concepts end to end on a tiny random model with the real CLIP vocabulary', async (t) => {
  const root = tempDir('cli');
  t.teardown(() => rmSync(root, { recursive: true, force: true })); // the model is ~13 MB
  const modelDir = join(root, 'model');
  const made = await makeRandomModel({ preset: 'tiny', seed: 3, outDir: modelDir });
  const dim = made.config.projectionDim;
  const featuresDir = join(root, 'embed');
  const parts = await writeFeatureParts(featuresDir, [3, 2], dim, 9);
  const vocab = join(root, 'vocab.csv');
  writeFileSync(vocab, `name\n${NAMES.map((n) => `"${n}"`).join('\n')}\n`);
  const args = ['bin/starword.js', 'concepts', '--model', modelDir, '--features', featuresDir, '--out', join(root, 'concepts'),
    '--vocab', vocab, '--top-k', '5', '--cache-dir', join(root, 'cache'), '--vocab-batch', '8', '--threads', '1'];
  const first = await run('node', args);
  t.regex(first.stdout, /^concepts: 2 parts \(2 written, 0 already done\), 5 images, top 5 of 20 names, vocabulary features computed\n$/);
  t.regex(first.stderr, /vocabulary: 20 names from column 'name'/);
  const rows = concepts.fromTable(readPart(join(root, 'concepts'), concepts.KIND, 1));
  t.deepEqual(rows.map((r) => r.imageId), parts[1].ids);
  t.true(rows.every((r) => r.concepts.length === 5 && r.concepts.every((c) => NAMES.includes(c))));

  const again = await run('node', args);
  t.regex(again.stdout, /2 parts \(0 written, 2 already done\).*vocabulary features not needed/);

  const bad = await run('node', [...args.slice(0, 8), '--vocab', join(root, 'missing.txt')]).catch((e: { code: number; stderr: string }) => e);
  t.is((bad as { code: number }).code, 2);
  t.regex((bad as { stderr: string }).stderr, /^starword: cannot read vocabulary .*missing\.txt.*\n$/);
});
