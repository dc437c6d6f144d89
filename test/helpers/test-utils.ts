/**
 * What every test file shares: temporary folders that go away, and one graph cache per test process.
 *
 * Every folder a test makes lives under one root of its test process, `<os tmp>/starword-test-<pid>-XXXX`,
 * removed when the process exits, pass or fail. `STARWORD_TEST_KEEP=1` keeps the root and prints where
 * it is, for looking at what a failing test wrote.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;

/** This process's root of test folders, made on first use and removed at exit. */
export function testRoot(): string {
  if (root === undefined) {
    const made = mkdtempSync(join(tmpdir(), `starword-test-${process.pid}-`));
    root = made;
    process.on('exit', () => {
      if (process.env.STARWORD_TEST_KEEP) process.stderr.write(`test folders kept in ${made}\n`);
      else {
        // a folder still in use (a mount left by a failed test) must not turn a finished run into a crash
        try { rmSync(made, { recursive: true, force: true }); } catch (err) { process.stderr.write(`test folders left in ${made}: ${String(err)}\n`); }
      }
    });
  }
  return root;
}

/**
 * A fresh empty folder under this process's root. `teardown` (ava's `t.teardown`) removes it as soon
 * as the test ends, for tests that write much; otherwise it goes when the process exits.
 */
export function tempDir(label = 'tmp', teardown?: (fn: () => void) => void): string {
  const dir = mkdtempSync(join(testRoot(), `${label.replace(/^starword-/, '').replace(/-$/, '')}-`));
  teardown?.(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let graphCache: string | undefined;

/**
 * The graph cache of this test process (STARWORD_CACHE_DIR / --cache-dir): tests that build the same
 * graphs share it, and it never touches the user's cache. Entries are written by rename, so test
 * processes running in parallel may each have theirs without conflict.
 */
export function testCacheDir(): string {
  graphCache ??= tempDir('graph-cache');
  return graphCache;
}

/** A graph cache of one test alone, for tests about the cache itself (what it holds, when it builds). */
export function freshCacheDir(): string {
  return tempDir('own-graph-cache');
}

/**
 * `test` when what a test needs is here; otherwise the test is declared skipped and the reason is
 * printed, never counted as a pass. With `requiredInCi` (Mesa, Slurm, Chromium: what CI installs), a
 * missing need under CI=true declares a test that FAILS with the reason instead: CI must not go green
 * by skipping. Decide `available` before declaring tests (ava needs the declaration up front).
 */
export function testIf(available: boolean, label: string, reason: string, opts: { requiredInCi?: boolean } = {}): typeof test {
  if (available) return test;
  if (opts.requiredInCi && process.env.CI === 'true') {
    const failing = ((title: string) => test(title, (t) => { t.fail(`${label}: ${reason} (required under CI=true)`); })) as unknown as typeof test;
    return failing;
  }
  console.warn(`${label}: ${reason}: skipped`);
  return test.skip as unknown as typeof test;
}
