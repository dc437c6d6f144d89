/**
 * The sharded run end to end, as the recipes in deploy/ run it: step 1 (ingest, embed, concepts) as four
 * concurrent processes, one of them seeing the images under another mount point; step 2 phrases once
 * for the union of the shards' concepts; step 3 OTI as four concurrent processes reading that one
 * phrases folder; step 4 merge into one corpus, then phi once on it. The tokens equal an unsharded
 * run's bit for bit (--oti-pad-to makes each image's token independent of its batch mates).
 */
import test from 'ava';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRunDirs, mergeRuns } from '../../pipeline/merge-runs.ts';
import { inspectRun } from '../../pipeline/inspect-run.ts';
import { readRunManifest } from '../../pipeline/run-manifest.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { PhiPredictor, invertFeatures } from '../../stages/phi/invert.ts';
import { locateParts } from '../../stages/retrieve/sources.ts';
import { BIN, pipelineFixture, spawn } from '../helpers/pipeline-run.ts';

function tokensOf(runDir: string): Map<string, tokensSchema.TokenRow> {
  const dir = join(runDir, 'oti');
  const out = new Map<string, tokensSchema.TokenRow>();
  for (const i of listDoneParts(dir, tokensSchema.KIND)) {
    for (const row of tokensSchema.fromTable(readPart(dir, tokensSchema.KIND, i)).rows) {
      if (out.has(row.imageId)) throw new Error(`image ${row.imageId} twice in ${runDir}`);
      out.set(row.imageId, row);
    }
  }
  return out;
}

/** Runs the CLI; resolves with its exit code and output (several at once run concurrently). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: process.env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

test('4 concurrent shards → phrases once → OTI per shard → one corpus → one phi; tokens equal the unsharded run', async (t) => {
  const f = await pipelineFixture(12);
  const out = join(f.root, 'sharded');
  const phrases = join(out, 'phrases');
  const ref = join(f.root, 'unsharded');
  // shard 3 sees the same images under another path (another machine's mount point)
  const otherMount = join(f.root, 'mnt', 'images');
  mkdirSync(join(f.root, 'mnt'));
  symlinkSync(f.images, otherMount);
  const common = ['--model', f.model, '--vocab', f.vocab, '--top-k', '10', '--oti-top-k', '10', '--cache-dir', f.cache, '--backend', 'templates', '--n', '6',
    '--oti-steps', '3', '--oti-batch', '2', '--oti-pad-to', '77', '--part-size', '3', '--threads', '1', '--phrases', phrases];
  const shardRun = (i: number, extra: string[] = []) => ['run', '--images', i === 3 ? otherMount : f.images, '--out', out,
    '--shard-count', '4', '--shard-index', String(i), ...common, ...extra];

  // step 1, with the unsharded run's first stages and a refused per-shard phi alongside
  const step1 = await Promise.all([
    ...[0, 1, 2, 3].map((i) => cli(shardRun(i, ['--until', 'concepts']))),
    cli(['run', '--images', f.images, '--out', ref, ...common, '--until', 'concepts']),
    cli(shardRun(0, ['--phi'])),
  ]);
  for (const r of step1.slice(0, 5)) t.is(r.code, 0, r.stderr);
  const phiRefused = step1[5];
  t.is(phiRefused.code, 2);
  t.regex(phiRefused.stderr.trim(), /^starword: --phi with 4 shards would train phi on one shard's tokens: .*starword merge .*starword phi --run .*corpus/);
  t.is(phiRefused.stderr.trim().split('\n').length, 1);
  const shards = findRunDirs(out);
  t.is(shards.length, 4);
  t.is(new Set(shards.map((d) => readRunManifest(d)!.fingerprint)).size, 1, 'one fingerprint whatever the mount point');

  // step 2: phrases once, for the union of the shards' concepts
  const step2 = await cli(['phrases', '--concepts-from', out, '--out', phrases, '--model', f.model, '--backend', 'templates', '--n', '6',
    '--threads', '1', '--cache-dir', f.cache]);
  t.is(step2.code, 0, step2.stderr);
  t.regex(step2.stderr, /concepts in the union of 4 run folders' top 15/);

  // step 3: OTI per shard (the same command line; done stages are skipped), and the unsharded run's OTI
  const step3 = await Promise.all([...[0, 1, 2, 3].map((i) => cli(shardRun(i))), cli(['run', '--images', f.images, '--out', ref, ...common])]);
  for (const r of step3) t.is(r.code, 0, r.stderr);
  t.true(step3.every((r) => /phrases: using .*phrases \(made once for all shards\)/.test(r.stderr)));

  const union = new Map<string, tokensSchema.TokenRow>();
  for (const s of shards) for (const [id, row] of tokensOf(s)) { t.false(union.has(id), `${id} in two shards`); union.set(id, row); }
  const whole = tokensOf(ref);
  t.is(whole.size, f.good);
  t.deepEqual([...union.keys()].sort(), [...whole.keys()].sort());
  for (const [id, row] of whole) {
    const s = union.get(id)!;
    t.is(s.seed, row.seed, id);
    t.is(s.steps, row.steps, id);
    t.deepEqual(Array.from(s.ema!), Array.from(row.ema!), `ema of ${id}`);
    t.deepEqual(Array.from(s.token!), Array.from(row.token!), `token of ${id}`);
  }

  // step 4: one corpus, then every consumer reads it
  const corpus = join(out, 'corpus');
  const merged = await mergeRuns(shards, corpus, {}, out);
  t.is(merged.images, f.good + f.broken);
  t.is(merged.rows['oti/tokens'], f.good);
  t.is(merged.phrases?.from, '../phrases');
  t.is(merged.placed.copied, 0);
  t.deepEqual([...tokensOf(corpus).keys()].sort(), [...whole.keys()].sort());
  const report = inspectRun(corpus);
  t.is(report.tokens?.ok, f.good);
  t.is(report.failures.total, f.broken);

  const ids = [...whole.keys()].sort().map((id) => id.replace(/\.[a-z]+$/, ''));
  const ann = join(f.root, 'cirr');
  mkdirSync(join(ann, 'captions'), { recursive: true });
  writeFileSync(join(ann, 'captions', 'cap.rc2.val.json'), JSON.stringify(ids.slice(0, 4).map((r, i) => ({
    pairid: i, reference: r, target_hard: ids[(i + 1) % ids.length], target_soft: {}, caption: 'has more circles',
    img_set: { id: i, members: ids.slice(i, i + 4) },
  }))));
  const [phi, retrieve, evaluate] = await Promise.all([
    cli(['phi', '--run', corpus, '--model', f.model, '--top-k', '10', '--epochs', '2', '--batch', '4', '--threads', '1', '--cache-dir', f.cache]),
    cli(['retrieve', '--model', f.model, '--index', corpus, '--tokens', corpus, '--reference', ids[0], '--caption', 'has two circles',
      '--top-k', '3', '--cache-dir', f.cache, '--threads', '1']),
    cli(['evaluate', '--dataset', 'cirr', '--annotations', ann, '--index', corpus, '--tokens', corpus, '--model', f.model,
      '--method', 'searle', '--cache-dir', f.cache, '--threads', '1']),
  ]);
  t.is(phi.code, 0, phi.stderr);
  t.is(retrieve.code, 0, retrieve.stderr);
  t.is(evaluate.code, 0, evaluate.stderr);
  const summary = JSON.parse(readFileSync(join(corpus, 'phi', 'summary.json'), 'utf8')) as { images: number; concepts: number };
  t.is(summary.images, f.good, 'phi trains once, on every shard\'s tokens');
  t.true(summary.concepts > 0);
  t.is(retrieve.stdout.trim().split('\n').length >= 3, true, retrieve.stdout);

  const predictor = await PhiPredictor.open(join(corpus, 'phi', 'phi.onnx'), { threads: 1, cacheDir: f.cache });
  const inverted = await invertFeatures(locateParts(corpus, 'features', 'embed', '--features'), join(f.root, 'inverted'), predictor);
  t.is(inverted.ok, f.good);
  t.deepEqual(readdirSync(out).sort(), ['corpus', 'phrases', ...shards.map((s) => s.split('/').pop()!)].sort());
});
