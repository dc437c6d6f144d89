import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../util/errors.ts';
import { expectedClipTensors } from '../../clip/weights/clip-tensors.ts';
import { makeRandomModel, presetConfig, type ModelDims } from '../../clip/weights/make-model.ts';
import { parseClipConfig } from '../../clip/weights/config.ts';
import { roundTo } from '../../clip/weights/safetensors.ts';
import { loadClipModel } from '../../clip/weights/clip-model.ts';
import { readRawSafetensors } from '../helpers/model-files.ts';
import { tempDir } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Small enough to make in milliseconds: the tiny preset with a 1,000-id vocabulary. */
const SMALL: Partial<ModelDims> = { vocab: 1000 };

function stats(x: Float32Array): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (const v of x) { s += v; s2 += v * v; }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean) };
}

test('same seed gives the same bytes and hash; another seed does not', async (t) => {
  const dirs = [tempDir('model', t.teardown), tempDir('model', t.teardown), tempDir('model', t.teardown)];
  await makeRandomModel({ preset: 'tiny', seed: 7, outDir: dirs[0], overrides: SMALL });
  await makeRandomModel({ preset: 'tiny', seed: 7, outDir: dirs[1], overrides: SMALL });
  await makeRandomModel({ preset: 'tiny', seed: 8, outDir: dirs[2], overrides: SMALL });
  const [a, b, c] = await Promise.all(dirs.map(loadClipModel));
  t.is(a.hash, b.hash);
  t.not(a.hash, c.hash);
  t.deepEqual(readFileSync(join(dirs[0], 'model.safetensors')), readFileSync(join(dirs[1], 'model.safetensors')));
  t.notDeepEqual(a.tensor('text_projection.weight'), c.tensor('text_projection.weight'));
});

test('tiny preset: full vocabulary, 224 px / patch 32, loads, initialised as documented', async (t) => {
  const dir = tempDir('model', t.teardown);
  const made = await makeRandomModel({ preset: 'tiny', seed: 1, outDir: dir });
  const m = await loadClipModel(dir);
  t.deepEqual(m.config, made.config);
  t.like(m.config.text, { vocab: 49408, ctx: 77, width: 64, layers: 2, heads: 4, mlp: 128, bos: 49406, eos: 49407, pad: 1, act: 'quick_gelu' });
  t.like(m.config.vision, { width: 64, layers: 2, heads: 4, mlp: 128, imageSize: 224, patchSize: 32, channels: 3 });
  t.is(m.config.projectionDim, 32);
  t.deepEqual(m.shape('text_model.embeddings.token_embedding.weight'), [49408, 64]);
  t.deepEqual(m.shape('vision_model.embeddings.position_embedding.weight'), [50, 64]);
  for (const s of expectedClipTensors(m.config)) t.true(m.has(s.name), s.name);

  t.true(Math.abs(m.tensor('logit_scale')[0] - Math.log(1 / 0.07)) < 1e-6);
  t.true(m.tensor('vision_model.pre_layrnorm.weight').every((v) => v === 1));
  t.true(m.tensor('text_model.encoder.layers.1.layer_norm2.bias').every((v) => v === 0));
  const tok = stats(m.tensor('text_model.embeddings.token_embedding.weight'));
  t.true(Math.abs(tok.std - 0.02) < 0.0005 && Math.abs(tok.mean) < 0.0005, JSON.stringify(tok));
  const pos = stats(m.tensor('text_model.embeddings.position_embedding.weight'));
  t.true(Math.abs(pos.std - 0.01) < 0.001, JSON.stringify(pos));

  const pre = m.preprocessorConfig as Record<string, any>;
  t.deepEqual(pre.crop_size, { height: 224, width: 224 });
  t.deepEqual(pre.size, { shortest_edge: 224 });
  t.is(made.bytes, ['config.json', 'model.safetensors', 'preprocessor_config.json'].reduce((n, f) => n + readFileSync(join(dir, f)).length, 0));
});

test('F16 and BF16 outputs hold the F32 values of the same seed, rounded', async (t) => {
  const f32Dir = tempDir('model', t.teardown);
  await makeRandomModel({ preset: 'tiny', seed: 3, outDir: f32Dir, overrides: SMALL });
  const ref = await loadClipModel(f32Dir);
  for (const dtype of ['F16', 'BF16'] as const) {
    const dir = tempDir('model', t.teardown);
    await makeRandomModel({ preset: 'tiny', seed: 3, outDir: dir, overrides: SMALL, dtype });
    const m = await loadClipModel(dir);
    for (const name of ['text_model.encoder.layers.0.self_attn.q_proj.weight', 'vision_model.embeddings.patch_embedding.weight']) {
      t.deepEqual(m.tensor(name), roundTo(dtype, ref.tensor(name)), `${dtype} ${name}`);
    }
  }
});

test('overrides change dims, odd head counts included; impossible dims are a UserError', async (t) => {
  const dir = tempDir('model', t.teardown);
  await makeRandomModel({
    preset: 'tiny', seed: 2, outDir: dir,
    overrides: { vocab: 500, textWidth: 48, textHeads: 3, textLayers: 1, visionWidth: 40, visionHeads: 5, imageSize: 32, patchSize: 8, projectionDim: 16 },
  });
  const m = await loadClipModel(dir);
  t.like(m.config.text, { width: 48, heads: 3, layers: 1, vocab: 500, bos: 498, eos: 499 });
  t.like(m.config.vision, { width: 40, heads: 5, imageSize: 32, patchSize: 8 });
  t.deepEqual(m.shape('visual_projection.weight'), [16, 40]);
  t.false(m.has('text_model.encoder.layers.1.mlp.fc1.weight'));
  await t.throwsAsync(makeRandomModel({ preset: 'tiny', seed: 1, outDir: tempDir('model', t.teardown), overrides: { textWidth: 50, textHeads: 3 } }),
    { instanceOf: UserError, message: /hidden_size 50 is not divisible by num_attention_heads 3/ });
  await t.throwsAsync(makeRandomModel({ preset: 'huge' as never, seed: 1, outDir: tempDir('model', t.teardown) }), { instanceOf: UserError, message: /unknown preset 'huge'/ });
});

test('h14 and bigg presets: LAION\'s OpenCLIP ViT-H/14 and ViT-bigG/14 shapes with exact gelu, as their HF configs declare', (t) => {
  // LAION's Hugging Face configs still declare the legacy bos 0 / eos 2, which transformers (and
  // parseClipConfig) read as SOT 49406 / EOT 49407; everything else as the presets write it.
  const laion = (text: object, vision: object, projection: number) => parseClipConfig({
    projection_dim: projection,
    text_config: { ...text, vocab_size: 49408, max_position_embeddings: 77, hidden_act: 'gelu', layer_norm_eps: 1e-5, bos_token_id: 0, eos_token_id: 2, pad_token_id: 1 },
    vision_config: { ...vision, image_size: 224, patch_size: 14, hidden_act: 'gelu', layer_norm_eps: 1e-5 },
  }, 'laion config.json');
  t.deepEqual(presetConfig('h14'), laion(
    { hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 },
    { hidden_size: 1280, num_hidden_layers: 32, num_attention_heads: 16, intermediate_size: 5120 }, 1024));
  t.deepEqual(presetConfig('bigg'), laion(
    { hidden_size: 1280, num_hidden_layers: 32, num_attention_heads: 20, intermediate_size: 5120 },
    { hidden_size: 1664, num_hidden_layers: 48, num_attention_heads: 16, intermediate_size: 8192 }, 1280));
  for (const p of ['tiny', 'b32', 'l14'] as const) t.is(presetConfig(p).text.act, 'quick_gelu', p);
  // transformers takes any eos 2 as the legacy case (pooling at the largest id), whatever bos says
  t.like(parseClipConfig({ text_config: { bos_token_id: 49406, eos_token_id: 2 } }, 'c').text, { bos: 49406, eos: 49407 });
  t.like(parseClipConfig({ text_config: { bos_token_id: 49406, eos_token_id: 49407 } }, 'c').text, { bos: 49406, eos: 49407 });
});

test('an activation starword does not compute exactly is refused in one line naming it', (t) => {
  for (const act of ['gelu_new', 'gelu_pytorch_tanh']) {
    const err = t.throws(() => parseClipConfig({ vision_config: { hidden_act: act } }, 'm/config.json'), { instanceOf: UserError });
    t.is(err?.message, `m/config.json: vision_config.hidden_act: '${act}' is not supported (starword computes quick_gelu and gelu, the exact erf GELU)`);
  }
});

/** Runs the real CLI (asynchronously, so the other tests in this file keep running). */
function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['bin/starword.js', ...args], { cwd: ROOT, encoding: 'utf8' }, (err, stdout, stderr) => {
      done({ status: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('CLI make-model writes a loadable folder and refuses bad presets and non-empty folders', async (t) => {
  const parent = tempDir('model', t.teardown);
  const out = join(parent, 'model');
  // Independent runs in parallel: each CLI start costs a second or so.
  const [ok, bad, badSeed] = await Promise.all([
    cli('make-model', '--preset', 'tiny', '--seed', '5', '--out', out, '--dtype', 'bf16'),
    cli('make-model', '--preset', 'b16', '--out', join(parent, 'x')),
    cli('make-model', '--preset', 'tiny', '--seed', 'abc', '--out', join(parent, 'y')),
  ]);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\t\\d+\\.\\d MB\\n$`));
  t.deepEqual([...new Set(readRawSafetensors(join(out, 'model.safetensors')).map((r) => r.dtype))], ['BF16']);
  const m = await loadClipModel(out);
  t.is(m.config.text.vocab, 49408);

  const busy = await cli('make-model', '--preset', 'tiny', '--seed', '5', '--out', out);
  t.is(busy.status, 2);
  t.is(busy.stderr.trim().split('\n').length, 1);
  t.regex(busy.stderr, /exists and is not empty \(use --force/);

  t.is(bad.status, 2);
  t.is(bad.stderr, "starword: unknown preset 'b16' (choose tiny, b32, l14, h14, bigg)\n");
  t.false(existsSync(join(parent, 'x')));

  t.is(badSeed.status, 2);
  t.regex(badSeed.stderr, /--seed must be a non-negative integer/);

  writeFileSync(join(out, 'note.txt'), 'x');
  const forced = await cli('make-model', '--preset', 'tiny', '--seed', '6', '--out', out, '--force');
  t.is(forced.status, 0, forced.stderr);
  t.not((await loadClipModel(out)).hash, m.hash);
});
