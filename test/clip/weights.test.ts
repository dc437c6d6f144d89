import test from 'ava';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../../util/hash.ts';
import { UserError } from '../../util/errors.ts';
import { expectedClipTensors } from '../../clip/weights/clip-tensors.ts';
import { loadClipModel, modelHash } from '../../clip/weights/clip-model.ts';
import {
  readSafetensors, readShardedSafetensors, writeSafetensors, roundTo, f32ToF16Bits, f32ToBf16Bits,
} from '../../clip/weights/safetensors.ts';
import {
  GOLDEN_MODEL, copyGolden, editConfig, rawF32, readRawSafetensors, writeRawSafetensors,
} from '../helpers/model-files.ts';
import { tempDir } from '../helpers/test-utils.ts';

const GOLDEN_ST = join(GOLDEN_MODEL, 'model.safetensors');

async function userError(t: import('ava').ExecutionContext, p: Promise<unknown>, pattern: RegExp): Promise<string> {
  const err = await t.throwsAsync(p, { instanceOf: UserError });
  t.regex(err?.message ?? '', pattern);
  t.false((err?.message ?? '').includes('\n'), 'one line');
  return err?.message ?? '';
}

// ---- the golden model --------------------------------------------------------------------------

test('golden tiny model loads with every expected tensor, shape and value', async (t) => {
  const m = await loadClipModel(GOLDEN_MODEL);
  t.is(m.config.text.width, 32);
  t.is(m.config.vision.width, 40);
  t.is(m.config.projectionDim, 24);
  const expected = expectedClipTensors(m.config);
  t.is(expected.length, 2 + 2 * 16 + 2 + 1 + 3 + 2 + 2 * 16 + 2 + 1 + 1);
  const raw = new Map(readRawSafetensors(GOLDEN_ST).map((r) => [r.name, r]));
  t.is(raw.size, expected.length, 'the fixture holds exactly the expected tensors');
  for (const spec of expected) {
    t.deepEqual(m.shape(spec.name), spec.shape, spec.name);
    t.deepEqual(m.tensor(spec.name), rawF32(raw.get(spec.name)!), spec.name);
  }
  t.deepEqual(m.shape('vision_model.embeddings.position_embedding.weight'), [17, 40]);
  t.deepEqual(m.shape('vision_model.embeddings.patch_embedding.weight'), [40, 3, 8, 8]);
  t.deepEqual(m.shape('logit_scale'), []);
  t.false(m.has('text_model.embeddings.position_ids'));
  t.throws(() => m.tensor('nope.weight'), { instanceOf: UserError, message: /nope\.weight/ });
  t.is(m.tokenizerFiles, null);
  t.is(m.preprocessorConfig, null);
});

test('model hash is sha256 of config.json then model.safetensors, and modelHash agrees', async (t) => {
  const m = await loadClipModel(GOLDEN_MODEL);
  const want = sha256(readFileSync(join(GOLDEN_MODEL, 'config.json')), readFileSync(GOLDEN_ST));
  t.is(m.hash, want);
  t.is(await modelHash(GOLDEN_MODEL), want);
});

test('tokenizer files and preprocessor config are picked up when present', async (t) => {
  const dir = copyGolden(t.teardown);
  writeFileSync(join(dir, 'vocab.json'), '{}');
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ crop_size: 32, image_mean: [0.5, 0.5, 0.5] }));
  const m = await loadClipModel(dir);
  t.deepEqual(m.tokenizerFiles, { vocabJson: join(dir, 'vocab.json'), mergesTxt: join(dir, 'merges.txt') });
  t.deepEqual(m.preprocessorConfig, { crop_size: 32, image_mean: [0.5, 0.5, 0.5] });
  writeFileSync(join(dir, 'preprocessor_config.json'), '{oops');
  await userError(t, loadClipModel(dir), /preprocessor_config\.json: bad JSON/);
});

// ---- half-precision rounding -------------------------------------------------------------------

/** binary16 bits → value, straight from the IEEE definition (independent of the code under test). */
function halfValue(bits: number): number {
  const e = (bits >> 10) & 31, m = bits & 1023;
  const mag = e === 0 ? (m / 1024) * 2 ** -14 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -mag : mag;
}

/** Nearest binary16 by search over all positive codes, ties to the even code; overflow past 65520 → inf. */
function oracleHalfBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0, a = Math.abs(x);
  const value = (b: number): number => (b === 0x7c00 ? 65536 : halfValue(b)); // inf sits one ulp above max for rounding
  let lo = 0, hi = 0x7c00;
  if (a >= 65536) return sign | 0x7c00;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (value(mid) <= a) lo = mid; else hi = mid; }
  const dl = a - value(lo), dh = value(hi) - a;
  const pick = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
  return sign | pick;
}

/** Nearest bfloat16: the two candidates around x's float32 bits, ties to even. */
function oracleBf16Bits(x: number): number {
  const bits = new Uint32Array(Float32Array.of(x).buffer)[0];
  const lo = bits >>> 16, hi = lo + 1; // same sign, toward zero / away from zero
  const val = (b: number): number => {
    if ((b & 0x7fff) === 0x7f80) return (b & 0x8000 ? -1 : 1) * 2 ** 128; // inf as the next step
    return new Float32Array(new Uint32Array([b << 16]).buffer)[0];
  };
  const dl = Math.abs(x - val(lo)), dh = Math.abs(val(hi) - x);
  return dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
}

function halfTestValues(): Float32Array {
  const v: number[] = [0, -0, 1, -1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26,
    2 ** -14, 2 ** -14 - 2 ** -25, 65504, 65519, 65520, 1e6, -1e6, Infinity, -Infinity, 0.1, 1 / 3, 3.14159];
  let s = 12345;
  const rand = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 2 ** 32; };
  for (let i = 0; i < 3000; i++) v.push((rand() < 0.5 ? -1 : 1) * (1 + rand()) * 2 ** Math.floor(-30 + rand() * 48));
  for (let i = 0; i < 1000; i++) { // exact midpoints between neighbouring halfs, subnormals included
    const b = Math.floor(rand() * 0x7bff);
    v.push((halfValue(b) + halfValue(b + 1)) / 2);
  }
  return Float32Array.from(v);
}

test('F16: float32 → half rounds to nearest even, subnormals and overflow included', (t) => {
  const fixed: [number, number][] = [
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -24, 0x0001], [2 ** -25, 0x0000],
    [3 * 2 ** -25, 0x0002], [2 ** -26, 0x0000], [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400],
    [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [-0, 0x8000], [-Infinity, 0xfc00], [-2, 0xc000],
  ];
  for (const [x, bits] of fixed) t.is(f32ToF16Bits(x), bits, `${x}`);
  const nan = f32ToF16Bits(NaN);
  t.true((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0, 'NaN stays NaN');
  for (const x of halfTestValues()) {
    if (f32ToF16Bits(x) !== oracleHalfBits(x)) { t.fail(`${x}: got ${f32ToF16Bits(x).toString(16)}, want ${oracleHalfBits(x).toString(16)}`); return; }
  }
});

test('BF16: float32 → bfloat16 rounds to nearest even', (t) => {
  t.is(f32ToBf16Bits(1), 0x3f80);
  t.is(f32ToBf16Bits(new Float32Array(new Uint32Array([0x3f808000]).buffer)[0]), 0x3f80, 'tie to even (down)');
  t.is(f32ToBf16Bits(new Float32Array(new Uint32Array([0x3f818000]).buffer)[0]), 0x3f82, 'tie to even (up)');
  t.is(f32ToBf16Bits(new Float32Array(new Uint32Array([0x7f7fffff]).buffer)[0]), 0x7f80, 'max float rounds to inf');
  t.is(f32ToBf16Bits(NaN) & 0x7fc0, 0x7fc0);
  let s = 99;
  for (let i = 0; i < 20000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const bits = i % 4 === 0 ? ((s & 0xffff0000) | 0x8000) >>> 0 : s; // every fourth value an exact tie
    if ((bits & 0x7f800000) === 0x7f800000) continue; // inf / NaN covered above
    const x = new Float32Array(new Uint32Array([bits]).buffer)[0];
    if (f32ToBf16Bits(x) !== oracleBf16Bits(x)) { t.fail(`bits ${bits.toString(16)}`); return; }
  }
  t.pass();
});

for (const dtype of ['F16', 'BF16'] as const) {
  test(`${dtype} round trip through writeSafetensors and readSafetensors`, async (t) => {
    const dir = tempDir('model', t.teardown);
    const values = halfTestValues();
    const file = join(dir, 'x.safetensors');
    await writeSafetensors(file, [
      { name: 'a', shape: [values.length], dtype, data: values },
      { name: 'b', shape: [2, 3], dtype, data: () => Float32Array.of(1, 2, 3, 4, 5, 6.0078125) },
    ], { format: 'pt' });
    const raw = readRawSafetensors(file);
    t.deepEqual(raw.map((r) => [r.name, r.dtype, r.shape]), [['a', dtype, [values.length]], ['b', dtype, [2, 3]]]);
    const oracle = dtype === 'F16' ? oracleHalfBits : oracleBf16Bits;
    const stored = new Uint16Array(raw[0].bytes.buffer, raw[0].bytes.byteOffset, values.length);
    t.deepEqual(Array.from(stored), Array.from(values, (x) => oracle(x)));
    const back = await readSafetensors(file);
    const want = Float32Array.from(values, (x) => (dtype === 'F16' ? halfValue(oracleHalfBits(x)) : new Float32Array(new Uint32Array([oracleBf16Bits(x) << 16]).buffer)[0]));
    t.deepEqual(back.get('a'), want);
    t.deepEqual(back.get('a'), roundTo(dtype, values));
    t.deepEqual(back.shape('b'), [2, 3]);
    t.deepEqual(back.get('b'), Float32Array.of(1, 2, 3, 4, 5, dtype === 'F16' ? 6.0078125 : 6));
  });
}

test('a model stored in BF16 loads, values equal the rounded float32 ones', async (t) => {
  const dir = copyGolden(t.teardown);
  const golden = await loadClipModel(GOLDEN_MODEL);
  const specs = expectedClipTensors(golden.config);
  await writeSafetensors(join(dir, 'model.safetensors'), specs.map((s) => ({ ...s, dtype: 'BF16' as const, data: golden.tensor(s.name) })));
  const m = await loadClipModel(dir);
  for (const s of specs) t.deepEqual(m.tensor(s.name), roundTo('BF16', golden.tensor(s.name)), s.name);
  t.not(m.hash, golden.hash);
});

// ---- sharded checkpoints -----------------------------------------------------------------------

test('sharded checkpoint loads through model.safetensors.index.json', async (t) => {
  const dir = copyGolden(t.teardown);
  const raw = readRawSafetensors(GOLDEN_ST);
  const shards = { 'model-00001-of-00002.safetensors': raw.filter((r) => !r.name.startsWith('vision')), 'model-00002-of-00002.safetensors': raw.filter((r) => r.name.startsWith('vision')) };
  const weightMap: Record<string, string> = {};
  for (const [file, tensors] of Object.entries(shards)) {
    writeRawSafetensors(join(dir, file), tensors);
    for (const r of tensors) weightMap[r.name] = file;
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap }));
  rmSync(join(dir, 'model.safetensors'));

  const m = await loadClipModel(dir);
  const golden = await loadClipModel(GOLDEN_MODEL);
  for (const s of expectedClipTensors(m.config)) t.deepEqual(m.tensor(s.name), golden.tensor(s.name), s.name);
  const want = sha256(readFileSync(join(dir, 'config.json')), readFileSync(join(dir, 'model-00001-of-00002.safetensors')), readFileSync(join(dir, 'model-00002-of-00002.safetensors')));
  t.is(m.hash, want);
  t.is(await modelHash(dir), want);
  const store = await readShardedSafetensors(join(dir, 'model.safetensors.index.json'));
  t.is(store.names().length, raw.length);

  rmSync(join(dir, 'model-00002-of-00002.safetensors'));
  await userError(t, loadClipModel(dir), /index\.json: names shard .*model-00002-of-00002\.safetensors, which is missing/);
});

test('an index that maps a tensor to a shard without it is refused', async (t) => {
  const dir = copyGolden(t.teardown);
  const raw = readRawSafetensors(GOLDEN_ST);
  writeRawSafetensors(join(dir, 'a.safetensors'), raw);
  writeRawSafetensors(join(dir, 'b.safetensors'), raw.slice(0, 1));
  const weightMap = Object.fromEntries(raw.map((r) => [r.name, 'a.safetensors']));
  weightMap['ghost.weight'] = 'b.safetensors';
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  rmSync(join(dir, 'model.safetensors'));
  await userError(t, loadClipModel(dir), /maps tensor ghost\.weight to .*b\.safetensors, which does not hold it/);
  writeFileSync(join(dir, 'model.safetensors.index.json'), '{"weight_map": 3}');
  await userError(t, loadClipModel(dir), /index\.json: no "weight_map" object/);
});

// ---- broken files ------------------------------------------------------------------------------

test('a truncated safetensors file is named as truncated', async (t) => {
  const dir = copyGolden(t.teardown);
  const file = join(dir, 'model.safetensors');
  truncateSync(file, 200_000);
  const msg = await userError(t, loadClipModel(dir), /model\.safetensors: truncated: tensor \S+ needs data bytes up to \d+ but the file holds \d+/);
  t.true(msg.includes(file));
  truncateSync(file, 5);
  await userError(t, readSafetensors(file), /truncated: 5 bytes/);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(5000n);
  writeFileSync(file, Buffer.concat([len, Buffer.from('{"a":')]));
  await userError(t, loadClipModel(dir), /truncated or not a safetensors file: header claims 5000 bytes/);
});

test('a zero-byte safetensors file is refused', async (t) => {
  const dir = copyGolden(t.teardown);
  writeFileSync(join(dir, 'model.safetensors'), '');
  await userError(t, loadClipModel(dir), /model\.safetensors: file is empty \(0 bytes\)/);
});

test('a header that is not JSON, or lies about sizes, is refused', async (t) => {
  const dir = tempDir('model', t.teardown);
  const file = join(dir, 'x.safetensors');
  const body = Buffer.from('{not json!');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  writeFileSync(file, Buffer.concat([len, body]));
  await userError(t, readSafetensors(file), /x\.safetensors: bad safetensors header: not valid JSON/);
  writeRawSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [3], bytes: new Uint8Array(8) }]);
  await userError(t, readSafetensors(file), /tensor w: 8 data bytes for shape \[3\] of F32 \(expected 12\)/);
  writeFileSync(file, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x7f, 1, 2]));
  await userError(t, readSafetensors(file), /not a safetensors file/);
  await userError(t, readSafetensors(join(dir, 'absent.safetensors')), /absent\.safetensors: file not found/);
});

test('a required tensor in an unsupported dtype is named with its dtype; HF\'s position_ids buffers are accepted', async (t) => {
  const dir = copyGolden(t.teardown);
  const raw = readRawSafetensors(GOLDEN_ST);
  // HF checkpoints often carry int64 position_ids buffers: not needed, not an error.
  const extra = { name: 'text_model.embeddings.position_ids', dtype: 'I64', shape: [1, 77], bytes: new Uint8Array(77 * 8) };
  writeRawSafetensors(join(dir, 'model.safetensors'), [...raw, extra]);
  const m = await loadClipModel(dir);
  t.false(m.has(extra.name));
  t.is(m.hash, sha256(readFileSync(join(dir, 'config.json')), readFileSync(join(dir, 'model.safetensors'))), 'extra bytes are hashed too');

  const f64 = raw.map((r) => (r.name === 'logit_scale' ? { ...r, dtype: 'F64', bytes: new Uint8Array(8) } : r));
  writeRawSafetensors(join(dir, 'model.safetensors'), f64);
  await userError(t, loadClipModel(dir), /model\.safetensors: tensor logit_scale has dtype F64; starword reads only F32, F16 and BF16/);
  const store = await readSafetensors(join(dir, 'model.safetensors'));
  t.throws(() => store.get('logit_scale'), { instanceOf: UserError, message: /dtype F64/ });
});

test('a missing tensor is named', async (t) => {
  const dir = copyGolden(t.teardown);
  const raw = readRawSafetensors(GOLDEN_ST).filter((r) => r.name !== 'text_model.encoder.layers.1.mlp.fc1.bias');
  writeRawSafetensors(join(dir, 'model.safetensors'), raw);
  await userError(t, loadClipModel(dir), /model\.safetensors: missing tensor text_model\.encoder\.layers\.1\.mlp\.fc1\.bias \(config\.json implies shape \[64\]\)$/);
});

test('weights the config does not use are refused, naming them: fewer layers in config.json than in the weights, or a stray tensor', async (t) => {
  const dir = copyGolden(t.teardown);
  editConfig(dir, (cfg) => { cfg.text_config.num_hidden_layers = 1; });
  const msg = await userError(t, loadClipModel(dir),
    /^.*model\.safetensors: 16 tensors that config\.json does not use: text_model\.encoder\.layers\.1\.layer_norm1\.bias, .* and 13 more; the weights hold text layers up to 1 but config\.json's text_config\.num_hidden_layers is 1$/);
  t.notRegex(msg, /vision/);
  editConfig(dir, (cfg) => { cfg.text_config.num_hidden_layers = 2; cfg.vision_config.num_hidden_layers = 1; });
  await userError(t, loadClipModel(dir), /16 tensors that config\.json does not use: vision_model\.encoder\.layers\.1\..*config\.json's vision_config\.num_hidden_layers is 1$/);
  editConfig(dir, (cfg) => { cfg.vision_config.num_hidden_layers = 2; });
  t.truthy(await loadClipModel(dir), 'the matching config loads again');
  const raw = readRawSafetensors(GOLDEN_ST);
  const stray = { name: 'text_model.encoder.layers.0.mlp.fc3.weight', dtype: 'F32', shape: [2], bytes: new Uint8Array(8) };
  writeRawSafetensors(join(dir, 'model.safetensors'), [...raw, stray]);
  await userError(t, loadClipModel(dir), /model\.safetensors: 1 tensor that config\.json does not use: text_model\.encoder\.layers\.0\.mlp\.fc3\.weight$/);
});

test('a config that disagrees with the weights names tensor, found shape and implied shape', async (t) => {
  const dir = copyGolden(t.teardown);
  editConfig(dir, (cfg) => { cfg.text_config.intermediate_size = 80; });
  const msg = await userError(t, loadClipModel(dir), /model\.safetensors: text_model\.encoder\.layers\.0\.mlp\.fc1\.weight has shape \[64,32\] but config\.json implies \[80,32\]/);
  t.regex(msg, /\(and 5 more tensor problems\)$/); // fc1 weight and bias, fc2 weight, in both layers
  editConfig(dir, (cfg) => { cfg.text_config.intermediate_size = 64; cfg.vision_config.image_size = 40; });
  await userError(t, loadClipModel(dir), /vision_model\.embeddings\.position_embedding\.weight has shape \[17,40\] but config\.json implies \[26,40\]$/);
});

test('folder-level problems: missing folder, config, weights; pytorch_model.bin only; bad config', async (t) => {
  await userError(t, loadClipModel('/nonexistent/starword-model'), /model folder \/nonexistent\/starword-model does not exist/);
  const dir = tempDir('model', t.teardown);
  await userError(t, loadClipModel(dir), /no config\.json/);
  writeFileSync(join(dir, 'config.json'), '{"text_config": ');
  await userError(t, loadClipModel(dir), /config\.json: bad JSON/);
  writeFileSync(join(dir, 'config.json'), '{"text_config": {"hidden_size": "big"}}');
  await userError(t, loadClipModel(dir), /config\.json: text_config\.hidden_size/);
  writeFileSync(join(dir, 'config.json'), readFileSync(join(GOLDEN_MODEL, 'config.json')));
  await userError(t, loadClipModel(dir), /no model\.safetensors or model\.safetensors\.index\.json/);
  writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
  await userError(t, loadClipModel(dir), /pytorch_model\.bin but starword reads only safetensors; convert it with .*safe_serialization=True/);
  await userError(t, modelHash(dir), /pytorch_model\.bin/);
});
