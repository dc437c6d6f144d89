/**
 * Integrity on disk, unit by unit: markers that vouch for their part, reads that refuse damage with the
 * file named, fs errors as one line, unique temporary names, the sweep, and the one-writer lock.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import * as features from '../../schemas/features.ts';
import { checkPart, isPartCurrent, markerChecksum, partPaths, readPart, readPartStats, writeFileAtomic, writePart } from '../../schemas/part-io.ts';
import { UserError } from '../../util/errors.ts';
import { LOCK_FILE, acquireRunLock, lockHolder } from '../../util/run-lock.ts';
import { UNLOCKED_STALE_MS, hostTag, sweepStaleTemps, tempOwner, tempPath } from '../../util/temp-name.ts';
import { tempDir } from '../embed/helpers.ts';
import { testIf } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ imageId: `img-${i}`, features: Float32Array.from([i, i + 0.5, -i]) }));

async function part(dir: string, n = 5, provenance?: Parameters<typeof writePart>[6]) {
  return writePart(dir, features.KIND, 0, features.toTable(rows(n), 3), SCHEMA_VERSION, { dim: 3 }, provenance);
}

/** A dead pid: a child that has exited (its pid is not reused this quickly). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('the marker records size, sha256, rows, provenance and its own checksum; checkPart passes a sound part', async (t) => {
  const dir = tempDir('integrity-ok');
  const stats = await part(dir, 5, { inputs: { images: 'abc' }, configHash: 'c1', modelHash: 'm1' });
  const paths = partPaths(dir, features.KIND, 0);
  t.is(stats.bytes, statSync(paths.arrow).size);
  t.regex(String(stats.sha256), /^[0-9a-f]{64}$/);
  t.is(stats.rows, 5);
  t.deepEqual(stats.provenance, { inputs: { images: 'abc' }, configHash: 'c1', modelHash: 'm1' });
  t.is(stats.markerHash, markerChecksum(readPartStats(dir, features.KIND, 0)));
  t.is(checkPart(dir, features.KIND, 0), 'ok');
  t.is(checkPart(dir, features.KIND, 0, { level: 'full', provenance: { inputs: { images: 'abc' }, modelHash: 'm1' } }), 'ok');
  t.deepEqual(readdirSync(dir).sort(), ['features-00000.arrow', 'features-00000.stats.json'], 'no temporary file left');
});

test('a truncated part: checkPart names the sizes, readPart refuses with the file named, a stage redoes it', async (t) => {
  const dir = tempDir('integrity-trunc');
  const stats = await part(dir);
  const paths = partPaths(dir, features.KIND, 0);
  truncateSync(paths.arrow, Math.floor(stats.bytes! / 2));
  t.deepEqual(checkPart(dir, features.KIND, 0), { path: paths.arrow, reason: `damaged: ${Math.floor(stats.bytes! / 2)} bytes, its marker says ${stats.bytes}` });
  const err = t.throws(() => readPart(dir, features.KIND, 0, { quarantine: false }), { instanceOf: UserError });
  t.true(err!.message.startsWith(`${paths.arrow}: damaged`), err!.message);
  t.false(err!.message.includes('\n'));
  // without the marker, a cut inside a message body is the Arrow reader's complaint, still one line naming the file
  // (a cut between messages reads back as a shorter table without any complaint: why the marker keeps the size)
  const whole = await part(tempDir('integrity-trunc-body'));
  const cutDir = tempDir('integrity-trunc-cut');
  await part(cutDir);
  truncateSync(partPaths(cutDir, features.KIND, 0).arrow, whole.bytes! - 12);
  const e2 = t.throws(() => readPart(cutDir, features.KIND, 0, { verify: false }), { instanceOf: UserError });
  t.regex(e2!.message, /features-00000\.arrow: damaged Arrow stream \(Expected to read \d+ bytes for message body, but only read \d+\); rerun/);
  const lines: string[] = [];
  t.false(isPartCurrent(dir, features.KIND, 0, {}, (l) => lines.push(l)));
  t.is(lines.length, 1);
  t.true(lines[0].startsWith(`redoing ${paths.arrow}: damaged: ${Math.floor(stats.bytes! / 2)} bytes, its marker says ${stats.bytes}; moved aside to ${paths.arrow}.damaged-`), lines[0]);
  t.false(readdirSync(dir).includes('features-00000.stats.json'), 'the stale marker is gone: old and new never mix');
});

test('a deleted part, a marker that lies about rows, a marker edited with a fresh checksum, a damaged marker', async (t) => {
  const dir = tempDir('integrity-lies');
  await part(dir);
  const paths = partPaths(dir, features.KIND, 0);
  const marker = JSON.parse(readFileSync(paths.stats, 'utf8'));
  // rows edited by hand: the marker's checksum no longer matches
  writeFileSync(paths.stats, JSON.stringify({ ...marker, rows: 9 }));
  t.deepEqual(checkPart(dir, features.KIND, 0), { path: paths.stats, reason: 'its marker was edited (its checksum does not match)' });
  // even with the checksum recomputed, reading (or a full check) counts the rows
  const forged = { ...marker, rows: 9, markerHash: undefined };
  writeFileSync(paths.stats, JSON.stringify({ ...forged, markerHash: markerChecksum(forged) }));
  t.is(checkPart(dir, features.KIND, 0), 'ok', 'the size check alone cannot see it');
  t.deepEqual(checkPart(dir, features.KIND, 0, { level: 'full' }), { path: paths.arrow, reason: 'holds 5 rows, its marker says 9' });
  t.throws(() => readPart(dir, features.KIND, 0, { quarantine: false }), { instanceOf: UserError, message: /features-00000\.arrow: holds 5 rows, its marker says 9/ });
  // same size, other bytes
  writeFileSync(paths.stats, JSON.stringify(marker));
  const bytes = readFileSync(paths.arrow);
  bytes[bytes.length - 20] ^= 0xff;
  writeFileSync(paths.arrow, bytes);
  t.deepEqual(checkPart(dir, features.KIND, 0, { level: 'full' }), { path: paths.arrow, reason: 'damaged: its content differs from the sha256 in its marker' });
  unlinkSync(paths.arrow);
  t.deepEqual(checkPart(dir, features.KIND, 0), { path: paths.arrow, reason: 'missing (its marker is there)' });
  t.throws(() => readPart(dir, features.KIND, 0), { instanceOf: UserError, message: /features-00000\.arrow: reading failed: no such file or folder \(ENOENT/ });
  writeFileSync(paths.stats, '{"kind": "feat');
  const bad = checkPart(dir, features.KIND, 0);
  t.true(bad !== 'ok' && /marker unreadable \(damaged marker/.test(bad.reason));
  t.throws(() => readPartStats(dir, features.KIND, 0), { instanceOf: UserError, message: /features-00000\.stats\.json: damaged marker/ });
});

test('provenance: a part made from other inputs, options or model does not check out', async (t) => {
  const dir = tempDir('integrity-prov');
  await part(dir, 3, { inputs: { images: 'a', concepts: 'b' }, configHash: 'c', modelHash: 'm' });
  const reason = (p: Parameters<typeof checkPart>[3]) => { const c = checkPart(dir, features.KIND, 0, p); return c === 'ok' ? 'ok' : c.reason; };
  t.is(reason({ provenance: { modelHash: 'other' } }), 'made with another model');
  t.is(reason({ provenance: { configHash: 'other' } }), 'made with other options');
  t.is(reason({ provenance: { inputs: { images: 'a', concepts: 'x' } } }), 'made from other inputs (concepts)');
  t.is(reason({ provenance: { inputs: { images: 'a' }, configHash: 'c', modelHash: 'm' } }), 'ok');
  // a part written without provenance does not vouch for any
  const plain = tempDir('integrity-prov-none');
  await part(plain, 3);
  t.is(checkPart(plain, features.KIND, 0, { provenance: { modelHash: 'm' } }) === 'ok', false);
});

test.serial('ENOSPC (injected): one line naming the file, no temporary file left, the old file intact', async (t) => {
  const dir = tempDir('integrity-enospc');
  const target = join(dir, 'notes.json');
  writeFileAtomic(target, 'old');
  process.env.STARWORD_FAULT_ENOSPC = 'notes.json';
  try {
    const err = t.throws(() => writeFileAtomic(target, 'x'.repeat(10_000)), { instanceOf: UserError });
    t.is(err!.message, `${target}: writing failed: no space left on the device (ENOSPC, write)`);
    process.env.STARWORD_FAULT_ENOSPC = 'features-00000';
    await t.throwsAsync(part(dir), { instanceOf: UserError, message: /features-00000\.arrow: writing failed: no space left on the device/ });
  } finally {
    delete process.env.STARWORD_FAULT_ENOSPC;
  }
  t.deepEqual(readdirSync(dir), ['notes.json'], 'no .tmp- file and no marker');
  t.is(readFileSync(target, 'utf8'), 'old');
});

// The real-disk variant mounts a 64 KB tmpfs, which only root may do: decided before the tests are
// declared, so without root it is reported as skipped, never counted as a pass (the injected variant
// above always runs).
const tmpfsMount = tempDir('integrity-tmpfs');
const canMountTmpfs = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', tmpfsMount]).status === 0;
testIf(canMountTmpfs, 'integrity', 'not root, or mount refused: the real-disk ENOSPC test')('ENOSPC on a real full file system (a small tmpfs; needs root)', async (t) => {
  const mnt = tmpfsMount;
  try {
    const big = rows(20_000); // about 500 KB of features: more than the 64 KB file system holds
    const err = await t.throwsAsync(writePart(mnt, features.KIND, 0, features.toTable(big, 3), SCHEMA_VERSION), { instanceOf: UserError });
    t.regex(err!.message, new RegExp(`^${mnt}/features-00000\\.arrow: writing failed: no space left on the device \\(ENOSPC`));
    t.deepEqual(readdirSync(mnt), [], 'the partial temporary file was removed');
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('a folder where a file should be: EISDIR as one line naming the path', (t) => {
  const dir = tempDir('integrity-eisdir');
  mkdirSync(partPaths(dir, features.KIND, 0).arrow);
  t.throws(() => readPart(dir, features.KIND, 0, { verify: false }), { instanceOf: UserError, message: /features-00000\.arrow: reading failed: is a folder, not a file \(EISDIR/ });
});

test('temporary names: host, pid and a random suffix; parsed back; the sweep removes only the dead owners\' files', (t) => {
  const a = tempPath('/x/part.arrow');
  const b = tempPath('/x/part.arrow');
  t.not(a, b);
  t.true(a.startsWith(`/x/part.arrow.tmp-${hostTag()}-${process.pid}-`));
  t.deepEqual(tempOwner(a), { host: hostTag(), pid: process.pid });
  t.deepEqual(tempOwner('phrases-00000.arrow.tmp-4242'), { host: null, pid: 4242 }, 'old-style names are recognised');
  t.is(tempOwner('phrases-00000.arrow'), null);
  t.true(hostTag().length > 0 && !hostTag().includes('-'), hostname());

  const dir = tempDir('integrity-sweep');
  const dead = deadPid();
  const names = {
    mine: `a.arrow.tmp-${hostTag()}-${process.pid}-00ff`,
    dead: `b.arrow.tmp-${hostTag()}-${dead}-abcd`,
    oldDead: `c.arrow.tmp-${dead}`,
    live: `d.arrow.tmp-${hostTag()}-${process.ppid}-1234`,
    otherHost: `e.arrow.tmp-elsewhere-${process.pid}-99aa`,
    data: 'f.arrow',
  };
  for (const n of Object.values(names)) writeFileSync(join(dir, n), 'x');
  // without the lock, a dead-looking owner may live in another PID namespace: a fresh file is kept
  t.deepEqual(sweepStaleTemps(dir, false), []);
  const old = (Date.now() - 2 * UNLOCKED_STALE_MS) / 1000;
  for (const n of Object.values(names)) utimesSync(join(dir, n), old, old);
  t.deepEqual(sweepStaleTemps(dir, false).sort(), [names.dead, names.oldDead].sort());
  t.deepEqual(sweepStaleTemps(dir, true), [names.otherHost], 'under the lock, another host\'s temporary files are stale too');
  t.deepEqual(readdirSync(dir).sort(), [names.mine, names.live, names.data].sort());
});

const lockScript = (dir: string, holdMs: number) => [
  '--import=tsx', '-e',
  `import('${ROOT}util/run-lock.ts').then(async (m) => {
     try { m.acquireRunLock(${JSON.stringify(dir)}, 'test'); console.log('got'); } catch (e) { console.log('refused: ' + e.message); process.exit(2); }
     await new Promise((r) => setTimeout(r, ${holdMs}));
   });`,
];

function runNode(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('the lock: exclusive, names its holder, re-entrant in one process, released; a dead holder\'s lock is taken over', async (t) => {
  const dir = tempDir('integrity-lock');
  const lock = acquireRunLock(dir, 'test');
  t.like(lockHolder(dir), { pid: process.pid, host: hostTag(), command: 'test' });
  const again = acquireRunLock(dir);
  again.release();
  t.truthy(lockHolder(dir), 'still held after the inner release');
  const other = await runNode(lockScript(dir, 0));
  t.is(other.code, 2);
  t.regex(other.out, new RegExp(`refused: ${dir} is in use by another starword process \\(pid ${process.pid} on ${hostTag()} \\(test\\), since `));
  lock.release();
  t.is(lockHolder(dir), null);

  // a lock left by a process that is gone (SIGKILL) on this host is taken over, and its temporary files swept
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ host: hostTag(), pid: deadPid(), startedAt: '2020-01-01T00:00:00Z', command: 'run' }));
  mkdirSync(join(dir, 'oti'));
  writeFileSync(join(dir, 'oti', `tokens-00000.arrow.tmp-${hostTag()}-${deadPid()}-aa`), 'half');
  const taken = acquireRunLock(dir, 'test');
  t.is(lockHolder(dir)?.pid, process.pid);
  t.is(taken.swept.length, 1);
  t.deepEqual(readdirSync(join(dir, 'oti')), []);
  taken.release();
  // another host's lock is never second-guessed
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ host: 'elsewhere', pid: 1, startedAt: 'then', command: 'run' }));
  t.throws(() => acquireRunLock(dir), { instanceOf: UserError, message: /pid 1 on elsewhere \(run\)/ });
  rmSync(join(dir, LOCK_FILE));
});

test('two processes racing for one lock: exactly one gets it', async (t) => {
  const dir = tempDir('integrity-race');
  const [a, b] = await Promise.all([runNode(lockScript(dir, 4000)), runNode(lockScript(dir, 4000))]);
  t.deepEqual([a.code, b.code].sort(), [0, 2], `${a.out}\n${b.out}`);
  t.is(lockHolder(dir), null, 'released when the holder exited');
});

test('the lock goes with its holder on SIGTERM', async (t) => {
  const dir = tempDir('integrity-sigterm');
  const p = spawn(process.execPath, lockScript(dir, 60_000), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve) => p.stdout.on('data', (d) => { if (String(d).includes('got')) resolve(); }));
  t.is(lockHolder(dir)?.pid, p.pid);
  const exit = new Promise<NodeJS.Signals | null>((resolve) => p.on('close', (_code, signal) => resolve(signal)));
  p.kill('SIGTERM');
  t.is(await exit, 'SIGTERM', 'it still dies of the signal');
  t.is(lockHolder(dir), null);
});

test('a part finished by an older starword (marker without size or hash) is checked in full and kept, or redone when damaged', async (t) => {
  const dir = tempDir('integrity-legacy');
  await part(dir, 4);
  const paths = partPaths(dir, features.KIND, 0);
  const { bytes: _b, sha256: _s, markerHash: _m, ...old } = JSON.parse(readFileSync(paths.stats, 'utf8'));
  writeFileSync(paths.stats, JSON.stringify(old));
  const lines: string[] = [];
  t.true(isPartCurrent(dir, features.KIND, 0, { provenance: { modelHash: 'm' } }, (l) => lines.push(l)));
  t.regex(lines[0], /^kept .*features-00000\.arrow: made by an older starword, its content checks out/);
  t.is(checkPart(dir, features.KIND, 0, { level: 'full', provenance: { modelHash: 'm' } }), 'ok', 'the marker was completed');
  // the same, with the part cut short: redone
  writeFileSync(paths.stats, JSON.stringify({ ...old, rows: 5 }));
  t.false(isPartCurrent(dir, features.KIND, 0, {}, (l) => lines.push(l)));
  t.regex(lines[1], /^redoing .*features-00000\.stats\.json: its marker records no size or checksum/);
});
