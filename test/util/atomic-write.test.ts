/** The one atomic write (util/atomic-write.ts): whole files or nothing, one-line errors, no temporaries left. */
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAtomically, writeFileAtomic, writeFileAtomicAsync, writeFileAtomicWith, writeFileAtomicWithAsync } from '../../util/atomic-write.ts';
import { UserError } from '../../util/errors.ts';
import { tempDir } from '../helpers/test-utils.ts';

test('sync and async writes replace the file whole and leave no temporary file', async (t) => {
  const dir = tempDir('atomic', t.teardown);
  const target = join(dir, 'a.bin');
  writeFileAtomic(target, 'first');
  writeFileAtomic(target, new Uint8Array([1, 2, 3]));
  t.deepEqual([...readFileSync(target)], [1, 2, 3]);
  await writeFileAtomicAsync(target, 'second');
  t.is(readFileSync(target, 'utf8'), 'second');
  t.is(await writeFileAtomicWithAsync(target, async (fh) => { await fh.write('streamed'); return 7; }), 7);
  t.is(readFileSync(target, 'utf8'), 'streamed');
  t.deepEqual(readdirSync(dir), ['a.bin']);
});

test('a writer that fails leaves the old file and no temporary file; errno errors are one line naming the path', async (t) => {
  const dir = tempDir('atomic-fail', t.teardown);
  const target = join(dir, 'keep.txt');
  writeFileAtomic(target, 'old');
  t.throws(() => writeFileAtomicWith(target, (fd) => { writeFileSync(fd, 'half'); throw new Error('boom'); }), { message: 'boom' });
  await t.throwsAsync(writeFileAtomicWithAsync(target, async () => { throw new Error('boom'); }), { message: 'boom' });
  t.is(readFileSync(target, 'utf8'), 'old');
  t.deepEqual(readdirSync(dir), ['keep.txt']);
  const missing = join(dir, 'no-such-folder', 'x.json');
  const err = t.throws(() => writeFileAtomic(missing, '{}'), { instanceOf: UserError });
  t.is(err!.message, `${missing}: writing failed: no such file or folder (ENOENT, open)`);
});

test('ENOSPC (injected) in the async write: the old file intact, nothing else left', async (t) => {
  const dir = tempDir('atomic-enospc', t.teardown);
  const target = join(dir, 'table.json');
  await writeFileAtomicAsync(target, 'old');
  process.env.STARWORD_FAULT_ENOSPC = 'table.json';
  try {
    await t.throwsAsync(writeFileAtomicAsync(target, 'x'.repeat(10_000)), { instanceOf: UserError, message: `${target}: writing failed: no space left on the device (ENOSPC, write)` });
  } finally {
    delete process.env.STARWORD_FAULT_ENOSPC;
  }
  t.deepEqual(readdirSync(dir), ['table.json']);
  t.is(readFileSync(target, 'utf8'), 'old');
});

test('a folder built atomically appears whole; a second build of the same folder fails and removes only its own copy', (t) => {
  const dir = tempDir('atomic-folder', t.teardown);
  const entry = join(dir, 'entry');
  const build = (content: string) => (tmp: string) => { mkdirSync(tmp); writeFileSync(join(tmp, 'model.onnx'), content); };
  buildAtomically(entry, build('first'));
  t.is(readFileSync(join(entry, 'model.onnx'), 'utf8'), 'first');
  t.throws(() => buildAtomically(entry, build('second')), { instanceOf: UserError, message: new RegExp(`^${entry}: writing failed: `) });
  t.is(readFileSync(join(entry, 'model.onnx'), 'utf8'), 'first', 'the winner\'s entry is untouched');
  t.deepEqual(readdirSync(dir), ['entry']);
  t.throws(() => buildAtomically(join(dir, 'broken'), (tmp) => { mkdirSync(tmp); throw new Error('build failed'); }), { message: 'build failed' });
  t.false(existsSync(join(dir, 'broken')));
  t.deepEqual(readdirSync(dir), ['entry']);
});
