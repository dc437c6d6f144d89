/**
 * "Trust nothing on disk", end to end through the CLI on one small run folder, in order: damage that
 * happens after parts are finished is found and redone (and named), a full disk is one line with no
 * temporary file left, a stage command with other options goes through the run's guard and redoes what
 * it must, a second writer is refused naming the holder, and merge / inspect refuse lying or missing
 * parts with exit 2. Then two processes under one PID (as in two containers) share a folder safely.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markerChecksum, checkPart, listDoneParts, partPaths, readPart } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import * as featuresSchema from '../../schemas/features.ts';
import { formatReport, inspectRun } from '../../pipeline/inspect-run.ts';
import { mergeRuns } from '../../pipeline/merge-runs.ts';
import { UserError } from '../../util/errors.ts';
import { acquireRunLock } from '../../util/run-lock.ts';
import { hostTag } from '../../util/temp-name.ts';
import { TINY_MODEL_DIR, golden, relDiff } from '../helpers/golden.ts';
import { freshCacheDir } from '../helpers/test-utils.ts';
import { BIN, type PipelineFixture, pipelineFixture, runArgs, runSync } from '../helpers/pipeline-run.ts';
import { tempDir } from '../embed/helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const fixture = pipelineFixture(8);
const args = (f: PipelineFixture, out: string, extra: string[] = []) => runArgs(f, out, ['--part-size', '4', ...extra]);

function tokensOf(runDir: string): Map<string, { ema: number[]; steps: number }> {
  const dir = join(runDir, 'oti');
  const out = new Map<string, { ema: number[]; steps: number }>();
  for (const i of listDoneParts(dir, tokensSchema.KIND)) {
    for (const r of tokensSchema.fromTable(readPart(dir, tokensSchema.KIND, i)).rows) out.set(r.imageId, { ema: Array.from(r.ema ?? []), steps: r.steps });
  }
  return out;
}

/** Every file under `dir`, relative. */
function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

/** Every part of every stage checked in full (sha256, stream, rows). */
function allSound(run: string): string[] {
  const bad: string[] = [];
  for (const [stage, kinds] of [['ingest', ['images']], ['embed', ['features', 'errors']], ['concepts', ['concepts']], ['phrases', ['phrases']], ['oti', ['tokens', 'errors']]] as const) {
    for (const kind of kinds) {
      for (const p of listDoneParts(join(run, stage), kind)) {
        const c = checkPart(join(run, stage), kind, p, { level: 'full' });
        if (c !== 'ok') bad.push(`${c.path}: ${c.reason}`);
      }
    }
  }
  return bad;
}

const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';

let reference: Map<string, { ema: number[]; steps: number }>;
let run: string;
let f: PipelineFixture;

test.serial('a run, then damaged parts and a full disk: the rerun names and redoes them, no temporary file is left', async (t) => {
  f = await fixture;
  run = join(f.root, 'run');
  const first = runSync(args(f, run));
  t.is(first.status, 0, first.stderr);
  reference = tokensOf(run);
  t.is(reference.size, f.good);
  t.deepEqual(allSound(run), []);

  // damage after the fact: half a finished tokens part, half an upstream features part whose downstream parts are done
  const tokens1 = partPaths(join(run, 'oti'), 'tokens', 1).arrow;
  const features2 = partPaths(join(run, 'embed'), 'features', 2).arrow;
  const tokensSize = statSync(tokens1).size, featuresSize = statSync(features2).size;
  truncateSync(tokens1, tokensSize >> 1);
  truncateSync(features2, featuresSize >> 1);
  // ... and a disk that fills up while the phrases part is rewritten
  unlinkSync(partPaths(join(run, 'phrases'), 'phrases', 0).stats);
  const full = runSync(args(f, run), { STARWORD_FAULT_ENOSPC: 'phrases-00000.arrow' });
  t.is(full.status, 2, full.stderr);
  t.is(lastLine(full.stderr), `starword: ${join(run, 'phrases', 'phrases-00000.arrow')}: writing failed: no space left on the device (ENOSPC, write)`);
  t.true(full.stderr.includes(`embed: redoing ${features2}: damaged: ${featuresSize >> 1} bytes, its marker says ${featuresSize}`), full.stderr);
  t.deepEqual(walk(run).filter((n) => n.includes('.tmp-') || n.endsWith('.lock')), [], 'no temporary file and no lock left');

  const again = runSync(args(f, run));
  t.is(again.status, 0, again.stderr);
  t.true(again.stderr.includes(`oti: redoing ${tokens1}: damaged: ${tokensSize >> 1} bytes, its marker says ${tokensSize}`), again.stderr);
  t.regex(again.stderr, /oti: \d+ ok, 0 failed, 2 of 3 parts already done/);
  t.deepEqual(tokensOf(run), reference, 'the redone parts equal the uninterrupted run\'s');
  t.deepEqual(allSound(run), []);
});

test.serial('a stage command goes through the run\'s guard; with --force the parts made otherwise are redone, not mixed', (t) => {
  const oti = (extra: string[]) => runSync([BIN, 'oti', '--run', run, '--model', f.model, '--cache-dir', f.cache, '--oti-batch', '4', '--oti-top-k', '10', '--threads', '1', ...extra]);
  const refused = oti(['--oti-steps', '13']);
  t.is(refused.status, 2);
  t.regex(lastLine(refused.stderr), /^starword: this run folder was made with a different configuration \(oti\.steps 12 → 13\); .*--force/);
  const forced = oti(['--oti-steps', '13', '--force']);
  t.is(forced.status, 0, forced.stderr);
  for (let p = 0; p < 3; p++) {
    t.true(forced.stderr.includes(`oti: redoing ${partPaths(join(run, 'oti'), 'tokens', p).stats}: made with other options`), forced.stderr);
  }
  const now = tokensOf(run);
  t.deepEqual([...now.keys()].sort(), [...reference.keys()].sort());
  t.true([...now.values()].every((r) => r.steps === 13), 'no part of the old steps kept');
  t.is(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).config.oti.steps, 13);
});

test.serial('a second writer on one --out is refused with one line naming the holder', (t) => {
  const lock = acquireRunLock(run, 'test-holder');
  try {
    const second = runSync(args(f, run, ['--oti-steps', '13']));
    t.is(second.status, 2);
    t.regex(lastLine(second.stderr), new RegExp(`^starword: ${run} is in use by another starword process \\(pid ${process.pid} on ${hostTag()} \\(test-holder\\)`));
  } finally {
    lock.release();
  }
});

test.serial('merge and inspect refuse a marker that lies and a deleted part, naming the file; --verify finds a forged one', async (t) => {
  const oti = join(run, 'oti'), embed = join(run, 'embed');
  // a marker edited to claim 9 rows
  const m0 = partPaths(oti, 'tokens', 0).stats;
  writeFileSync(m0, JSON.stringify({ ...JSON.parse(readFileSync(m0, 'utf8')), rows: 9 }));
  // the .arrow deleted, its marker kept
  unlinkSync(partPaths(embed, featuresSchema.KIND, 1).arrow);
  // a forged marker (checksum recomputed) of a part inspect does not read: only --verify can tell
  const m2 = partPaths(join(run, 'concepts'), 'concepts', 2).stats;
  const forged = { ...JSON.parse(readFileSync(m2, 'utf8')), rows: 9, markerHash: undefined };
  writeFileSync(m2, JSON.stringify({ ...forged, markerHash: markerChecksum(forged) }));

  const merge = await t.throwsAsync(mergeRuns([run], join(run, 'merged')), { instanceOf: UserError });
  t.true(merge!.message.includes(`${m0}: its marker was edited`), merge!.message);
  t.true(merge!.message.includes(`${partPaths(embed, featuresSchema.KIND, 1).arrow}: missing (its marker is there)`), merge!.message);
  t.is(merge!.exitCode, 2);

  const full = await t.throwsAsync(mergeRuns([run], join(run, 'merged'), { verify: 'full' }), { instanceOf: UserError });
  t.true(full!.message.includes(`${partPaths(join(run, 'concepts'), 'concepts', 2).arrow}: holds`), full!.message);

  const inspect = inspectRun(run);
  t.deepEqual(inspect.integrity.bad.map((b) => b.path).sort(), [partPaths(embed, featuresSchema.KIND, 1).arrow, m0].sort());
  t.regex(formatReport(inspect), /integrity \(marker and size\): \d+ parts checked, 2 bad/);

  const verify = runSync([BIN, 'inspect', '--verify', run]);
  t.is(verify.status, 2);
  t.true(verify.stdout.includes(`bad: ${partPaths(join(run, 'concepts'), 'concepts', 2).arrow}: holds`), verify.stdout);
  t.regex(verify.stdout, /integrity \(size, sha256, rows\): \d+ parts checked, 3 bad/);
  t.regex(lastLine(verify.stderr), /^starword: 3 bad parts: /);
});

/** `node` in a PID namespace of its own: pid 1, as in a container. */
function inContainer(nodeArgs: string[], env: NodeJS.ProcessEnv, input = ''): Promise<{ code: number | null; out: string; err: string }> {
  const alone = spawnSync('unshare', ['-p', '-f', 'true']).status === 0;
  const [cmd, argv] = alone ? ['unshare', ['-p', '-f', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  return new Promise((resolve) => {
    const p = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
    p.stdin.end(input);
  });
}

test('two processes with one PID (two containers) writing the same file and building the same graph cache: both succeed', async (t) => {
  if (spawnSync('unshare', ['-p', '-f', 'true']).status !== 0) t.log('unshare unavailable: the processes run with distinct PIDs');
  const dir = tempDir('trust-shared');
  const target = join(dir, 'shared.bin');
  const writer = (byte: number) => ['--import=tsx', '-e', `import('${ROOT}schemas/part-io.ts').then((m) => {
    if (process.pid > 2) console.error('pid ' + process.pid);
    const bytes = new Uint8Array(1 << 20).fill(${byte});
    for (let i = 0; i < 150; i++) m.writeFileAtomic(${JSON.stringify(target)}, bytes);
  });`];
  const [a, b] = await Promise.all([inContainer(writer(1), {}), inContainer(writer(2), {})]);
  t.is(a.code, 0, a.err);
  t.is(b.code, 0, b.err);
  const bytes = readFileSync(target);
  t.is(bytes.length, 1 << 20);
  t.true(bytes.every((x) => x === bytes[0]), 'the file is one writer\'s whole content, never a mix');
  t.deepEqual(readdirSync(dir), ['shared.bin']);

  // the graph cache: both build the same text graph at once; both answer as the golden model does
  const cache = freshCacheDir(); // empty, so that both really build
  const g = golden();
  const input = `${JSON.stringify({ ids: g.text.ids[1] })}\n`;
  const embed = [BIN, 'embed-text', '--model', TINY_MODEL_DIR, '--threads', '1'];
  const [x, y] = await Promise.all([inContainer(embed, { STARWORD_CACHE_DIR: cache }, input), inContainer(embed, { STARWORD_CACHE_DIR: cache }, input)]);
  for (const r of [x, y]) {
    t.is(r.code, 0, r.err);
    t.true(relDiff(JSON.parse(r.out).features, g.text.features[1]) < 1e-4);
  }
  t.deepEqual(walk(join(cache, 'graphs')).filter((n) => n.includes('.tmp-')), []);
});
