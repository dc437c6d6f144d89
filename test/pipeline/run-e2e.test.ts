import test from 'ava';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as errorsSchema from '../../schemas/errors.ts';
import * as featuresSchema from '../../schemas/features.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import * as conceptsSchema from '../../schemas/concepts.ts';
import { listDoneParts, readPart } from '../../schemas/part-io.ts';
import { type PipelineFixture, pipelineFixture, runArgs, runSync, spawn } from '../helpers/pipeline-run.ts';
import { relDiff } from '../helpers/golden.ts';

const fixture = pipelineFixture();

function tokensOf(runDir: string): Map<string, tokensSchema.TokenRow> {
  const dir = join(runDir, 'oti');
  const out = new Map<string, tokensSchema.TokenRow>();
  for (const i of listDoneParts(dir, tokensSchema.KIND)) {
    for (const row of tokensSchema.fromTable(readPart(dir, tokensSchema.KIND, i)).rows) {
      if (out.has(row.imageId)) throw new Error(`image ${row.imageId} twice`);
      out.set(row.imageId, row);
    }
  }
  return out;
}

function sameTokens(t: any, a: Map<string, tokensSchema.TokenRow>, b: Map<string, tokensSchema.TokenRow>) {
  t.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [id, row] of a) {
    const other = b.get(id)!;
    t.deepEqual(Array.from(row.ema ?? []), Array.from(other.ema ?? []), `ema of ${id}`);
    t.deepEqual(Array.from(row.token ?? []), Array.from(other.token ?? []), `token of ${id}`);
  }
}

let reference: Promise<{ f: PipelineFixture; run: string }> | null = null;
/** One uninterrupted run that several tests compare against. */
function referenceRun() {
  reference ??= (async () => {
    const f = await fixture;
    const run = join(f.root, 'reference');
    const r = runSync(runArgs(f, run));
    if (r.status !== 0) throw new Error(`reference run failed: ${r.stderr}`);
    return { f, run };
  })();
  return reference;
}

test.serial('end to end: shards written, rows = images − failures, broken files in the errors part', async (t) => {
  const { f, run } = await referenceRun();
  const featParts = listDoneParts(join(run, 'embed'), featuresSchema.KIND);
  t.is(featParts.length, Math.ceil((f.good + f.broken) / 8));
  let features = 0;
  const failures: errorsSchema.ErrorRow[] = [];
  for (const i of featParts) {
    const part = featuresSchema.fromTable(readPart(join(run, 'embed'), featuresSchema.KIND, i));
    t.is(part.dim, 32);
    features += part.rows.length;
    failures.push(...errorsSchema.fromTable(readPart(join(run, 'embed'), errorsSchema.KIND, i)));
  }
  t.is(features, f.good);
  t.deepEqual(failures.map((e) => e.imageId).sort(), ['broken-empty.png', 'broken-not-an-image.jpg', 'broken-truncated.jpg']);
  t.deepEqual(failures.map((e) => e.code).sort(), ['empty', 'not-an-image', 'unreadable']);
  // concepts: one row per embedded image, top 10 of the 40 names, scores descending
  for (const i of featParts) {
    const rows = conceptsSchema.fromTable(readPart(join(run, 'concepts'), conceptsSchema.KIND, i));
    for (const r of rows) {
      t.is(r.concepts.length, 10);
      for (let k = 1; k < r.scores.length; k++) t.true(r.scores[k - 1] >= r.scores[k]);
    }
  }
  const tokens = tokensOf(run);
  t.is(tokens.size, f.good);
  for (const row of tokens.values()) {
    t.is(row.status, 'ok');
    t.is(row.steps, 12);
    t.is(row.ema!.length, 64);
    t.true(Number.isFinite(row.lcos) && Number.isFinite(row.lgpt));
  }
  t.true(existsSync(join(run, 'run.json')));
});

test.serial('a rerun of a finished run does nothing and changes nothing', async (t) => {
  const { f, run } = await referenceRun();
  const before = tokensOf(run);
  const r = runSync(runArgs(f, run));
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /oti: 0 ok, 0 failed, 4 of 4 parts already done/);
  t.regex(r.stderr, /requests: 0, cached: \d+, failed: 0/);
  sameTokens(t, before, tokensOf(run));
});

test.serial('a changed config is refused with one line and exit 2, unless --force', async (t) => {
  const { f, run } = await referenceRun();
  const r = runSync(runArgs(f, run, ['--lr', '0.05']));
  t.is(r.status, 2);
  t.regex(r.stderr.trim(), /^starword: .*config\.oti\.adamw\.lr 0\.02 → 0\.05.*--force/);
  t.is(r.stderr.trim().split('\n').length, 1);
  // --force accepts it (the finished parts stay as they are), and the default config back again too
  t.is(runSync(runArgs(f, run, ['--lr', '0.05', '--force'])).status, 0);
  t.is(runSync(runArgs(f, run)).status, 2);
  t.is(runSync(runArgs(f, run, ['--force'])).status, 0);
});

test.serial('SIGKILL during OTI, then the same command: every image once, tokens equal to an uninterrupted run', async (t) => {
  const { f, run: ref } = await referenceRun();
  const run = join(f.root, 'killed');
  // more steps so OTI is long enough to be killed in the middle
  const args = runArgs(f, run);
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const otiDir = join(run, 'oti');
  const done = () => (existsSync(otiDir) ? readdirSync(otiDir).filter((n) => n.startsWith('tokens-') && n.endsWith('.stats.json')).length : 0);
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (done() >= 1) { clearInterval(timer); child.kill('SIGKILL'); resolve(); }
    }, 5);
    child.on('exit', () => { clearInterval(timer); reject(new Error('the run finished before it could be killed')); });
  }).catch((err) => t.log(String(err)));
  await new Promise((r) => child.once('exit', r).once('error', r));
  const partsAtKill = done();
  t.log(`killed with ${partsAtKill} of 4 tokens parts done`);
  t.true(partsAtKill < 4, 'killed before OTI finished');
  const r = runSync(args);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`${partsAtKill} of 4 parts already done`));
  sameTokens(t, tokensOf(run), tokensOf(ref));
});

test.serial('two shards, each with its own phrases: tokens equal to float32 noise; merge refuses the duplicated phrases', async (t) => {
  const { f, run: ref } = await referenceRun();
  const out = join(f.root, 'sharded');
  for (const i of [0, 1]) {
    const r = runSync(runArgs(f, out, ['--shard-count', '2', '--shard-index', String(i)]));
    t.is(r.status, 0, r.stderr);
  }
  // each shard made its own phrases: merging would duplicate them, so merge refuses with one line
  const m = runSync([runArgs(f, out)[0], 'merge', out]);
  t.is(m.status, 2);
  t.regex(m.stderr.trim(), /^starword: cannot merge: 2 shards made their own phrases, which would be duplicated: .*--concepts-from/);
  const shards = readdirSync(out).filter((n) => n.startsWith('shard-')).map((n) => join(out, n));
  t.is(shards.length, 2);
  const union = new Map<string, tokensSchema.TokenRow>();
  for (const s of shards) for (const [id, row] of tokensOf(s)) { t.false(union.has(id), `${id} in two shards`); union.set(id, row); }
  // Every image has its own seed and draws, so only batching differs between the shards and the
  // unsharded run: the 1/B of the batch mean (which Adam all but cancels, up to its eps) and float
  // summation order. Same images, same seeds, tokens equal to float32 noise (exactly equal with
  // --oti-pad-to: test/pipeline/shards-e2e.test.ts).
  const whole = tokensOf(ref);
  t.deepEqual([...union.keys()].sort(), [...whole.keys()].sort());
  let worst = 0;
  for (const [id, row] of union) {
    const w = whole.get(id)!;
    t.is(row.seed, w.seed);
    worst = Math.max(worst, relDiff(row.ema!, w.ema!));
  }
  t.log(`largest relative difference of an EMA token: ${worst.toExponential(2)}`);
  t.true(worst < 1e-3);
});

test.serial('evaluate on the pipeline run: CIRR-format queries with the OTI tokens, every method, a table', async (t) => {
  const { f, run } = await referenceRun();
  const ids = [...tokensOf(run).keys()].sort().map((id) => id.replace(/\.[a-z]+$/, ''));
  const queries = ids.slice(0, 6).map((ref, i) => ({
    pairid: i, reference: ref, target_hard: ids[(i + 1) % ids.length], target_soft: {}, caption: 'has more circles',
    img_set: { id: i, members: ids.slice(i, i + 6) },
  }));
  const ann = join(f.root, 'cirr');
  mkdirSync(join(ann, 'captions'), { recursive: true });
  writeFileSync(join(ann, 'captions', 'cap.rc2.val.json'), JSON.stringify(queries));
  const out = join(f.root, 'eval.json');
  const r = runSync([runArgs(f, run)[0], 'evaluate', '--dataset', 'cirr', '--annotations', ann, '--index', run, '--tokens', run,
    '--model', f.model, '--method', 'all', '--out', out], { STARWORD_CACHE_DIR: f.cache });
  t.is(r.status, 0, r.stderr);
  t.log(r.stdout);
  for (const method of ['searle-oti', 'image', 'text', 'sum']) t.regex(r.stdout, new RegExp(`\\n${method}\\s+\\d+\\.\\d\\d`));
  t.regex(r.stdout, /R@1\b/);
  t.regex(r.stdout, /Rsubset@1|R_subset@1|subset/);
  t.true(existsSync(out) && existsSync(out.replace(/\.json$/, '.png')));

  // phi trained on the run's tokens, then queries whose tokens phi predicts (.onnx and .safetensors)
  const phi = runSync([runArgs(f, run)[0], 'phi', '--run', run, '--model', f.model, '--epochs', '2', '--batch', '8', '--top-k', '10', '--out', join(f.root, 'phi')],
    { STARWORD_CACHE_DIR: f.cache });
  t.is(phi.status, 0, phi.stderr);
  for (const file of ['phi.onnx', 'phi.safetensors']) {
    const e = runSync([runArgs(f, run)[0], 'evaluate', '--dataset', 'cirr', '--annotations', ann, '--index', run, '--phi', join(f.root, 'phi', file),
      '--model', f.model, '--method', 'searle'], { STARWORD_CACHE_DIR: f.cache });
    t.is(e.status, 0, e.stderr);
    t.regex(e.stdout, /\nsearle\s+\d+\.\d\d/);
  }
});
