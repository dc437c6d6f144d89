import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { computeVocabFeatures, encodeVocabulary } from '../../stages/concepts/vocab-features.ts';
import { loadTemplates } from '../../clip/text/templates.ts';
import { FakeTextEncoder, fakeFeature, tempDir } from './_helpers.ts';

const templates = loadTemplates();
const names = ['cat', 'dog', 'Ducks, geese and swans', 'a $& b', 'tree', 'red car', 'x'];

/** SEARLE's loop written out directly: per name, 24 prompts, normalise, mean, normalise. */
function direct(name: string, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (const tpl of templates) {
    const f = fakeFeature(tpl.replace('{}', () => ` ${name} `), dim);
    const n = Math.hypot(...f);
    for (let d = 0; d < dim; d++) mean[d] += f[d] / n / templates.length;
  }
  const n = Math.hypot(...mean);
  return mean.map((x) => x / n);
}

test('template ensemble = mean of normalised template features, renormalised; streamed in batches', async (t) => {
  const enc = new FakeTextEncoder(12);
  const progress: [number, number][] = [];
  const vf = await encodeVocabulary({ names, templates, textEncoder: enc, batchSize: 3, onProgress: (d, n) => progress.push([d, n]) });
  t.is(vf.dim, 12);
  t.deepEqual(vf.names, names);
  names.forEach((name, v) => {
    const want = direct(name, 12);
    for (let d = 0; d < 12; d++) {
      if (Math.abs(vf.matrix[v * 12 + d] - want[d]) > 1e-6) t.fail(`${name}[${d}] ${vf.matrix[v * 12 + d]} vs ${want[d]}`);
    }
  });
  t.is(enc.calls, 3, 'ceil(7 / 3) encoder calls');
  t.is(enc.maxRowsPerCall, 3 * 24, 'never more than batchSize × templates rows at once');
  t.is(enc.rows, names.length * 24);
  t.true(enc.texts.includes('This is a photo of a  cat '), 'prompts as SEARLE formats them');
  t.true(enc.texts.includes(' a $& b  photo'));
  t.deepEqual(progress, [[0, 7], [3, 7], [6, 7], [7, 7]]);
});

test('the cache is reused (no encoder call) and invalidated by vocabulary, model or templates', async (t) => {
  const cacheDir = tempDir('cache');
  const run = async (enc: FakeTextEncoder, ns = names, modelHash = 'm1', tpls = templates) =>
    computeVocabFeatures({ names: ns, templates: tpls, textEncoder: enc, modelHash, cacheDir, batchSize: 4 });

  const e1 = new FakeTextEncoder(8);
  const first = await run(e1);
  t.false(first.cacheHit);
  t.true(e1.calls > 0);
  t.true(first.cachePath.includes(first.key.modelHash.slice(0, 16)) && first.cachePath.includes(first.key.vocabHash.slice(0, 16)));
  const meta = tableFromIPC(readFileSync(first.cachePath)).schema.metadata;
  t.is(meta.get('starword.model_hash'), 'm1');
  t.is(meta.get('starword.vocab_hash'), first.key.vocabHash);
  t.is(meta.get('starword.templates_hash'), first.key.templatesHash);

  const e2 = new FakeTextEncoder(8);
  const second = await run(e2);
  t.true(second.cacheHit);
  t.is(e2.calls, 0, 'second run makes no encoder call');
  t.deepEqual(second.features.names, names);
  t.deepEqual(Array.from(second.features.matrix), Array.from(first.features.matrix));

  const e3 = new FakeTextEncoder(8);
  t.false((await run(e3, [...names, 'new name'])).cacheHit, 'another vocabulary');
  t.true(e3.calls > 0);
  const e4 = new FakeTextEncoder(8);
  t.false((await run(e4, names, 'm2')).cacheHit, 'another model');
  t.true(e4.calls > 0);
  const e5 = new FakeTextEncoder(8);
  t.false((await run(e5, names, 'm1', templates.slice(0, 5))).cacheHit, 'other templates');
  t.is(readdirSync(cacheDir).filter((f) => f.endsWith('.arrow')).length, 4, 'one file per key, no temporaries left');

  const e6 = new FakeTextEncoder(8);
  t.true((await run(e6, [...names, 'new name'])).cacheHit, 'each key keeps its own file');
  t.is(e6.calls, 0);
});

test('a damaged cache file is recomputed with a warning, then replaced', async (t) => {
  const cacheDir = tempDir('cache-bad');
  const first = await computeVocabFeatures({ names, templates, textEncoder: new FakeTextEncoder(8), modelHash: 'm', cacheDir });
  writeFileSync(first.cachePath, 'garbage');
  const warnings: string[] = [];
  const enc = new FakeTextEncoder(8);
  const again = await computeVocabFeatures({ names, templates, textEncoder: enc, modelHash: 'm', cacheDir, onWarning: (w) => warnings.push(w) });
  t.false(again.cacheHit);
  t.true(enc.calls > 0);
  t.is(warnings.length, 1);
  t.regex(warnings[0], /unreadable/);
  t.deepEqual(Array.from(again.features.matrix), Array.from(first.features.matrix));
  const enc2 = new FakeTextEncoder(8);
  t.true((await computeVocabFeatures({ names, templates, textEncoder: enc2, modelHash: 'm', cacheDir })).cacheHit);
  t.is(enc2.calls, 0);
  t.deepEqual(readdirSync(cacheDir), [join(first.cachePath).split('/').pop()]);
});
