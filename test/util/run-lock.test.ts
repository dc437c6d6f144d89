/**
 * The run lock across PID namespaces (containers that share a hostname, e.g. host networking or
 * Kubernetes hostNetwork): a holder whose pid this process cannot see is alive as long as its heartbeat
 * (the lock file's mtime, refreshed off the main thread) is fresh; only a stale heartbeat is taken over.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../util/errors.ts';
import { LOCK_FILE, acquireRunLock, lockHolder } from '../../util/run-lock.ts';
import { hostTag } from '../../util/temp-name.ts';
import { tempDir as sharedTempDir } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  return sharedTempDir(prefix, (fn) => t.teardown(fn));
}

/** A pid that is not a live process here: a child that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/**
 * Node code that takes the lock of `dir` and says 'got' (or 'refused: …' and exits 2); with `stop`, it
 * then holds the lock until that file exists, first blocking its event loop `busyMs`.
 */
const lockCode = (dir: string, stop?: string, busyMs = 0) =>
  `import('${ROOT}util/run-lock.ts').then(async (m) => {
     try { m.acquireRunLock(${JSON.stringify(dir)}, 'test'); console.log('got'); } catch (e) { console.log('refused: ' + e.message); process.exit(2); }
     ${stop ? `const end = Date.now() + ${busyMs}; while (Date.now() < end) {}
     const { existsSync } = await import('node:fs');
     while (!existsSync(${JSON.stringify(stop)})) await new Promise((r) => setTimeout(r, 50));` : ''}
   });`;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', (code) => resolve({ code, out }));
  });
}

/** Starts `node -e code` (optionally under `unshare --pid --fork`) and resolves once it printed 'got'. */
function startHolder(code: string, unshare: boolean, env: NodeJS.ProcessEnv = {}) {
  // in the new namespace, 30 short-lived processes first push node's pid past the few that the second
  // writer's own namespace holds (node, tsx's esbuild): there the holder's pid names no process
  const [cmd, args] = unshare
    ? ['unshare', ['--pid', '--fork', 'sh', '-c', `for i in $(seq 30); do /bin/true; done; "${process.execPath}" --import=tsx -e "$0"; true`, code]] as const
    : [process.execPath, ['--import=tsx', '-e', code]] as const;
  const p = spawn(cmd, [...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    p.stdout.on('data', (d) => { out += d; if (out.includes('got')) resolve(); });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', (c) => reject(new Error(`holder exited (${c}) before taking the lock: ${out}`)));
  });
  const closed = new Promise<number | null>((resolve) => p.on('close', resolve));
  return { p, ready, closed, output: () => out };
}

function unshareWorks(): string | null {
  const r = spawnSync('unshare', ['--pid', '--fork', 'true'], { encoding: 'utf8' });
  if (r.error) return `unshare not found (${r.error.message}); install util-linux`;
  return r.status === 0 ? null : `unshare --pid needs root or user namespaces: ${r.stderr.trim()}`;
}

test('a holder in another PID namespace keeps the lock while it runs: the second writer is refused, naming it', async (t) => {
  const why = unshareWorks();
  if (why) {
    if (process.env.CI === 'true') t.fail(`could not run: ${why}`);
    else t.log(`SKIPPED (not proven here): ${why}`);
    t.pass();
    return;
  }
  const dir = tempDir(t, 'lock-ns');
  const stop = `${dir}.stop`;
  t.teardown(() => rmSync(stop, { force: true }));
  const holder = startHolder(lockCode(dir, stop), true);
  t.teardown(() => holder.p.kill('SIGKILL'));
  await holder.ready;
  const h = lockHolder(dir);
  t.truthy(h);
  t.is(h?.host, hostTag(), 'same hostname');
  // the holder's pid is one of its own namespace: here it names no process, or another one
  const second = await run('unshare', ['--pid', '--fork', process.execPath, '--import=tsx', '-e', lockCode(dir)]);
  t.is(second.code, 2, second.out);
  t.regex(second.out, new RegExp(`refused: ${dir} is in use by another starword process \\(pid ${h?.pid} on ${hostTag()} \\(test\\)`));
  const outside = await run(process.execPath, ['--import=tsx', '-e', lockCode(dir)]);
  t.is(outside.code, 2, outside.out);
  writeFileSync(stop, '');
  t.is(await holder.closed, 0, holder.output());
  t.is(lockHolder(dir), null, 'released when the holder exited');
});

test('a lock whose pid is not visible here but whose heartbeat is fresh is refused; a stale heartbeat is taken over', (t) => {
  const dir = tempDir(t, 'lock-heartbeat');
  const path = join(dir, LOCK_FILE);
  const other = { host: hostTag(), pid: deadPid(), pidNs: 'pid:[1]', heartbeatMs: 5000, staleMs: 30_000, startedAt: '2026-01-01T00:00:00Z', command: 'run' };
  writeFileSync(path, JSON.stringify(other));
  t.throws(() => acquireRunLock(dir, 'test'), { instanceOf: UserError, message: new RegExp(`^${dir} is in use by another starword process \\(pid ${other.pid} on ${hostTag()} \\(run\\), since 2026-01-01T00:00:00Z`) });
  t.deepEqual(JSON.parse(readFileSync(path, 'utf8')), other, 'the holder\'s lock is left as it was');

  // the heartbeat stopped 31 s ago (the holder was killed): taken over
  const past = (Date.now() - 31_000) / 1000;
  utimesSync(path, past, past);
  const lock = acquireRunLock(dir, 'test');
  t.is(lockHolder(dir)?.pid, process.pid);
  lock.release();
  t.is(lockHolder(dir), null);

  // another host's fresh lock is still never second-guessed, a stale one is taken over
  writeFileSync(path, JSON.stringify({ ...other, host: 'elsewhere', pid: 1 }));
  t.throws(() => acquireRunLock(dir), { instanceOf: UserError, message: /pid 1 on elsewhere \(run\)/ });
  utimesSync(path, past, past);
  acquireRunLock(dir, 'test').release();
});

test('a dead holder of this PID namespace is taken over at once, heartbeat or not', (t) => {
  const dir = tempDir(t, 'lock-dead');
  const own = lockHolderOfThisNamespace();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ host: hostTag(), pid: deadPid(), pidNs: own, heartbeatMs: 5000, staleMs: 30_000, startedAt: 'then', command: 'run' }));
  const lock = acquireRunLock(dir, 'test');
  t.is(lockHolder(dir)?.pid, process.pid);
  t.is(lockHolder(dir)?.pidNs, own, 'the holder records its PID namespace');
  lock.release();
});

function lockHolderOfThisNamespace(): string {
  const dir = sharedTempDir('lock-ns');
  try {
    const lock = acquireRunLock(dir, 'probe');
    const ns = lockHolder(dir)?.pidNs;
    lock.release();
    if (typeof ns !== 'string') throw new Error('the lock records no PID namespace');
    return ns;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the heartbeat is refreshed while the holder\'s main thread is busy, so a long synchronous stretch is not taken for death', async (t) => {
  const dir = tempDir(t, 'lock-busy');
  const stop = `${dir}.stop`;
  t.teardown(() => rmSync(stop, { force: true }));
  // heartbeat every 100 ms, stale after 600 ms; the holder then blocks its event loop for 20 s
  const holder = startHolder(lockCode(dir, stop, 20_000), false, { STARWORD_LOCK_HEARTBEAT_MS: '100' });
  t.teardown(() => holder.p.kill('SIGKILL'));
  await holder.ready;
  const first = statSync(join(dir, LOCK_FILE)).mtimeMs;
  const started = Date.now();
  // the worker thread may take a while to start on a loaded machine; the holder stays busy for 20 s
  while (statSync(join(dir, LOCK_FILE)).mtimeMs === first && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 100));
  t.true(statSync(join(dir, LOCK_FILE)).mtimeMs > first, 'the mtime moved while the holder was busy');
  t.true(Date.now() - started < 15_000, 'and within the holder\'s busy stretch');
  // a writer of another namespace cannot see the holder's pid: only the heartbeat keeps it out
  const other = unshareWorks() === null
    ? await run('unshare', ['--pid', '--fork', process.execPath, '--import=tsx', '-e', lockCode(dir)])
    : await run(process.execPath, ['--import=tsx', '-e', lockCode(dir)]);
  t.is(other.code, 2, other.out);
  t.regex(other.out, /heartbeat \d+ s ago \(taken over after 1 s\)/);
  holder.p.kill('SIGKILL');
  await holder.closed;
});
