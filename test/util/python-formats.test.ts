/** The pickle, zip and torch.save writers, read back by the independent readers of test/helpers/python-formats.ts. */
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PyDict, PyFloat, PyTuple, pickle } from '../../util/pickle-writer.ts';
import { TorchTensor, torchSave } from '../../util/torch-save.ts';
import { writeStoredZip } from '../../util/zip-store.ts';
import { OrderedDict, Tuple, readZip, torchLoad, unpickle } from '../helpers/python-formats.ts';
import { tempDir } from '../helpers/test-utils.ts';

const dir = tempDir('pyfmt');
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('pickle bytes of a small list, opcode by opcode (pickletools)', (t) => {
  // PROTO 2 · EMPTY_LIST · MARK · BINUNICODE len 1 'a' · BININT1 1 · APPENDS · STOP
  t.deepEqual([...pickle(['a', 1])], [0x80, 2, 0x5d, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 1, 0x65, 0x2e]);
  // EMPTY_DICT · BINUNICODE 'k' · NEWTRUE · SETITEM (a one-entry batch)
  t.deepEqual([...pickle(new PyDict([['k', true]]))], [0x80, 2, 0x7d, 0x58, 1, 0, 0, 0, 0x6b, 0x88, 0x73, 0x2e]);
});

test('pickle round trip: ints of every width, floats, unicode, nesting, batches over 1,000', (t) => {
  const ints = [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER];
  t.deepEqual(unpickle(pickle(ints)), ints);
  t.deepEqual(unpickle(pickle([1.5, -0.1, 1e-30, new PyFloat(2)])), [1.5, -0.1, 1e-30, 2]);
  const s = ['', 'é', 'a photo of $ that', '日本', 'x'.repeat(70000)];
  t.deepEqual(unpickle(pickle(s)), s);
  const many = Array.from({ length: 2501 }, (_, i) => `n${i}`);
  t.deepEqual(unpickle(pickle(many)), many);
  const d = unpickle(pickle(new PyDict(many.map((k, i) => [k, [k, i]])))) as Map<string, unknown>;
  t.is(d.size, 2501);
  t.deepEqual(d.get('n2500'), ['n2500', 2500]);
  const tup = unpickle(pickle([new PyTuple([]), new PyTuple([1]), new PyTuple([1, 2, 3]), new PyTuple([1, 2, 3, 4]), null, false])) as unknown[];
  t.deepEqual(tup.slice(0, 4).map((x) => (x as Tuple).items), [[], [1], [1, 2, 3], [1, 2, 3, 4]]);
  t.deepEqual(tup.slice(4), [null, false]);
  t.true(unpickle(pickle(new PyDict([], true))) instanceof OrderedDict);
});

test('zip: STORED entries, CRC-32, data 64-byte aligned, names in order', (t) => {
  const path = join(dir, 'a.zip');
  const entries = [{ name: 'x/one', data: Buffer.from('hello') }, { name: 'x/two', data: new Uint8Array(1000).map((_, i) => i % 251) }, { name: 'x/é', data: new Uint8Array(0) }];
  writeStoredZip(path, entries);
  const recs = readZip(readFileSync(path));
  t.deepEqual(recs.map((r) => r.name), ['x/one', 'x/two', 'x/é']);
  for (const [i, r] of recs.entries()) {
    t.is(r.method, 0);
    t.is(r.dataOffset % 64, 0);
    t.deepEqual([...r.data], [...entries[i].data]);
  }
});

test('torch.save layout: records, version, byteorder, a [N, W] tensor and a checkpoint dict read back', (t) => {
  const path = join(dir, 't.pt');
  const values = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2.25);
  torchSave(path, new TorchTensor(values, [3, 4]));
  const file = readFileSync(path);
  const recs = readZip(file);
  t.deepEqual(recs.map((r) => r.name), ['archive/data.pkl', 'archive/byteorder', 'archive/data/0', 'archive/version']);
  t.is(recs[1].data.toString(), 'little');
  t.is(recs[3].data.toString().trim(), '3');
  const tensor = torchLoad(file) as { data: Float32Array; shape: number[]; stride: number[]; requiresGrad: boolean };
  t.deepEqual(tensor.shape, [3, 4]);
  t.deepEqual(tensor.stride, [4, 1]);
  t.false(tensor.requiresGrad);
  t.deepEqual([...tensor.data], [...values]);

  const ck = join(dir, 'ck.pt');
  const w = Float32Array.from([1, 2, 3, 4, 5, 6]), bias = Float32Array.from([-1, 1]);
  torchSave(ck, { dict: [['epoch', 7], ['Phi', { dict: [['layers.0.weight', new TorchTensor(w, [2, 3])], ['layers.0.bias', new TorchTensor(bias, [2])]], ordered: true }]] });
  const back = torchLoad(readFileSync(ck)) as Map<string, unknown>;
  t.is(back.get('epoch'), 7);
  const sd = back.get('Phi') as OrderedDict;
  t.true(sd instanceof OrderedDict);
  t.deepEqual([...sd.keys()], ['layers.0.weight', 'layers.0.bias']);
  const lw = sd.get('layers.0.weight') as { data: Float32Array; shape: number[]; stride: number[] };
  t.deepEqual(lw.shape, [2, 3]);
  t.deepEqual(lw.stride, [3, 1]);
  t.deepEqual([...lw.data], [...w]);
  t.deepEqual([...(sd.get('layers.0.bias') as { data: Float32Array }).data], [...bias]);
});
