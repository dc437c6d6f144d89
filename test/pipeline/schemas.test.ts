import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { SCHEMA_VERSION, errors, features, images, partPaths, readPart, tokens, writePart } from '../../schemas/index.ts';
import { tempDir } from '../embed/helpers.ts';
import { testIf } from '../helpers/test-utils.ts';

const viaIpc = <T>(table: ReturnType<typeof images.toTable>, read: (t: ReturnType<typeof images.toTable>) => T): T =>
  read(tableFromIPC(tableToIPC(table, 'stream')));

test('images: round trip through IPC with kind and version metadata, shard nullable', (t) => {
  const rows = [{ imageId: 'a/b.png', path: '/x/a/b.png', shard: 3 }, { imageId: 'ü.jpg', path: '/x/ü.jpg', shard: null }];
  const table = images.toTable(rows);
  t.is(table.schema.metadata.get('starword.kind'), 'images');
  t.is(table.schema.metadata.get('starword.schema_version'), String(SCHEMA_VERSION));
  t.deepEqual(viaIpc(table, images.fromTable), rows);
});

test('features: FixedSizeList<float32>[D], values exact, empty part keeps its width', (t) => {
  const rows = [{ imageId: 'x', features: Float32Array.from([1.5, -2, 3e-8]) }, { imageId: 'y', features: Float32Array.from([0, 1, 2]) }];
  const table = features.toTable(rows, 3, { 'starword.model_hash': 'abc' });
  t.is(String(table.schema.fields[1].type), 'FixedSizeList[3]<Float32>');
  const back = viaIpc(table, features.fromTable);
  t.is(back.dim, 3);
  t.deepEqual(back.rows, rows);
  const empty = viaIpc(features.toTable([], 7), features.fromTable);
  t.is(empty.dim, 7);
  t.deepEqual(empty.rows, []);
  t.throws(() => features.toTable([{ imageId: 'z', features: new Float32Array(2) }], 3), { message: /row 0 has 2 values, expected 3/ });
});

test('errors and tokens: round trip, failed tokens have null vectors', (t) => {
  const errs = [{ imageId: 'a', path: '/a', stage: 'embed', code: 'empty', reason: '/a: empty file (0 bytes)' }];
  t.deepEqual(viaIpc(errors.toTable(errs), errors.fromTable), errs);
  const rows: tokens.TokenRow[] = [
    { imageId: 'a', token: Float32Array.from([1, 2]), ema: Float32Array.from([0.5, 1]), lcos: 0.25, lgpt: 0.5, steps: 350, seed: 4294967295, status: 'ok', error: null },
    { imageId: 'b', token: null, ema: null, lcos: Number.NaN, lgpt: Number.NaN, steps: 12, seed: 7, status: 'failed', error: 'NaN in OTI' },
  ];
  const back = viaIpc(tokens.toTable(rows, 2), tokens.fromTable);
  t.is(back.width, 2);
  t.deepEqual(back.rows[0], rows[0]);
  t.is(back.rows[1].token, null);
  t.is(back.rows[1].ema, null);
  t.true(Number.isNaN(back.rows[1].lcos));
  t.is(back.rows[1].error, 'NaN in OTI');
  t.throws(() => tokens.toTable([{ ...rows[0], seed: -1 }], 2), { message: /uint32/ });
});

test('fromTable refuses a part of another kind or a newer version', (t) => {
  const table = images.toTable([{ imageId: 'a', path: '/a' }]);
  t.throws(() => features.fromTable(table), { message: /expected a 'features' part, got 'images'/ });
  const newer = images.toTable([], { 'starword.schema_version': '99' });
  t.is(newer.schema.metadata.get('starword.schema_version'), String(SCHEMA_VERSION)); // kind/version always win
  newer.schema.metadata.set('starword.schema_version', String(SCHEMA_VERSION + 1));
  t.throws(() => images.fromTable(newer), { message: /schema version/ });
});

test('parts are Arrow IPC stream files (continuation marker first), readable back', async (t) => {
  const dir = tempDir('schemas');
  await writePart(dir, features.KIND, 0, features.toTable([{ imageId: 'x', features: Float32Array.from([1, 2]) }], 2), SCHEMA_VERSION);
  const bytes = readFileSync(partPaths(dir, features.KIND, 0).arrow);
  t.is(bytes.readUInt32LE(0), 0xffffffff); // stream format; the file format starts with "ARROW1"
  t.not(bytes.subarray(0, 6).toString('latin1'), 'ARROW1');
  t.deepEqual(features.fromTable(readPart(dir, features.KIND, 0)).rows[0].imageId, 'x');
});

// pyarrow is an optional reader: without it the check is reported as skipped, never counted as a pass
const hasPyarrow = spawnSync('python3', ['-c', 'import pyarrow'], { encoding: 'utf8' }).status === 0;
testIf(hasPyarrow, 'schemas', 'pyarrow not installed here: the pyarrow read check')('pyarrow reads a part with ipc.open_stream (skipped when pyarrow is absent)', async (t) => {
  const dir = tempDir('pyarrow');
  const rows: tokens.TokenRow[] = [{ imageId: 'a', token: Float32Array.from([1, 2]), ema: Float32Array.from([3, 4]), lcos: 0.5, lgpt: 0.25, steps: 3, seed: 1, status: 'ok' }];
  await writePart(dir, tokens.KIND, 0, tokens.toTable(rows, 2), SCHEMA_VERSION);
  const script = [
    'import sys, json, pyarrow as pa',
    'with pa.OSFile(sys.argv[1]) as f: t = pa.ipc.open_stream(f).read_all()',
    'print(json.dumps({"type": str(t.schema.field("ema").type), "kind": t.schema.metadata[b"starword.kind"].decode(), "ema": t.column("ema").to_pylist()}))',
  ].join('\n');
  const out = JSON.parse(execFileSync('python3', ['-c', script, partPaths(dir, tokens.KIND, 0).arrow], { encoding: 'utf8' })) as { type: string; kind: string; ema: number[][] };
  t.is(out.kind, 'tokens');
  t.regex(out.type, /fixed_size_list<item: float>\[2\]/);
  t.deepEqual(out.ema, [[3, 4]]);
});
