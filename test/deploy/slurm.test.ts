/**
 * The Slurm recipe (deploy/slurm/) as shipped, on a real one-node Slurm that this test starts and stops
 * (test/deploy/slurm-cluster.sh: Debian's slurm-wlm + munge, as root). Only a config.sh is written: the
 * toy world's images and model, a loopback OpenAI-compatible server (test/helpers/llm-test-server.ts) as
 * the LLM, small per-step resources. It proves, through sbatch, squeue, scontrol and scancel:
 * - each step gets the CPUs, memory and time config.sh gives it (the .sbatch files hold none);
 * - an array task of step 3 cancelled mid-OTI (scancel), then the recipe resubmitted: every step
 *   completes, the cancelled part resumes from its finished batches (at most the batch in flight lost);
 * - the merged corpus's tokens equal an unsharded `starword run` bit for bit (--oti-pad-to 77);
 * - a third submission redoes nothing: zero LLM requests, no part rewritten, phi not retrained;
 * - a step 2 whose cache copy fails ends FAILED, not COMPLETED.
 *
 * It takes a few minutes, so `npm test` does not run it: `.ci/run` runs it as its own step with
 * STARWORD_SLURM_E2E=1 (and fails when it did not run). Without that variable it is declared skipped with
 * the reason; without Slurm it is skipped too, except under CI=true or STARWORD_SLURM_E2E=1, where it fails.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRunDirs } from '../../pipeline/merge-runs.ts';
import { listDoneParts, readPart, readPartStats } from '../../schemas/part-io.ts';
import * as tokensSchema from '../../schemas/tokens.ts';
import { type LlmTestServer, startLlmTestServer } from '../helpers/llm-test-server.ts';
import { TOY } from '../helpers/toy-run.ts';
import { tempDir, testCacheDir } from '../helpers/test-utils.ts';

/** the graph cache that the Slurm jobs share with this test process (test-utils: removed at exit) */
const TOY_CACHE_DIR = testCacheDir();

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'starword.js');
const CLUSTER = join(ROOT, 'test', 'deploy', 'slurm-cluster.sh');
const SUBMIT = join(ROOT, 'deploy', 'slurm', 'submit.sh');
const ENABLED = process.env.STARWORD_SLURM_E2E === '1';
const MUST_RUN = ENABLED || process.env.CI === 'true';

/** Why this machine cannot run a Slurm cluster, or null. */
function slurmMissing(): string | null {
  const which = (b: string) => spawnSync('bash', ['-c', `command -v ${b} || test -x /usr/sbin/${b}`]).status === 0;
  const absent = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'scontrol'].filter((b) => !which(b));
  if (absent.length) return `${absent.join(', ')} not installed (apt-get install slurm-wlm munge)`;
  if (process.getuid?.() !== 0) return 'not root (slurmd starts jobs as their owner)';
  return null;
}

const TITLE = 'Slurm recipe as shipped on a one-node Slurm: resources from config.sh, scancel mid-OTI + resubmit, tokens = unsharded, a resubmission redoes nothing';
const missing = slurmMissing();
if (missing && MUST_RUN) {
  test(TITLE, (t) => { t.fail(`the Slurm e2e could not run: ${missing}`); });
} else if (missing) {
  test.skip(`${TITLE} (skipped: ${missing})`, () => {});
  console.error(`slurm.test.ts: skipped: ${missing}`);
} else if (!ENABLED) {
  test.skip(`${TITLE} (skipped: a few minutes; .ci/run runs it as its own step with STARWORD_SLURM_E2E=1)`, () => {});
  console.error('slurm.test.ts: skipped: run it with STARWORD_SLURM_E2E=1 npx ava test/deploy/slurm.test.ts (.ci/run does)');
} else {
  const root = tempDir('slurm-e2e');
  const cluster = join(root, 'cluster');
  const slurmEnv = { ...process.env, SLURM_CONF: join(cluster, 'slurm.conf'), PATH: `${process.env.PATH}:/usr/sbin` };
  let llm: LlmTestServer | null = null;

  test.before(() => {
    const r = spawnSync('bash', [CLUSTER, 'start', cluster], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`slurm-cluster.sh start failed (${r.status}): ${r.stderr}`);
  });

  test.after.always(() => {
    // nothing left running: every job of this cluster cancelled and gone, then the daemons and the server
    if (existsSync(slurmEnv.SLURM_CONF)) {
      sh(['scancel', '--user', 'root']);
      for (let i = 0; i < 100 && sh(['squeue', '-h']).stdout.trim(); i++) spawnSync('sleep', ['0.2']);
    }
    spawnSync('bash', [CLUSTER, 'stop', cluster]);
    return llm?.close();
  });

  test(TITLE, async (t) => {
    t.timeout(15 * 60_000);
    llm = await startLlmTestServer();
    const out = join(root, 'out');
    const images = join(root, 'images');
    mkdirSync(images);
    for (const n of readdirSync(join(TOY, 'phi-train')).sort().slice(0, 12)) copyFileSync(join(TOY, 'phi-train', n), join(images, n));
    // the one line steps 1 and 3 share, and the unsharded run's (minus --shard-count)
    const model = join(TOY, 'model');
    const common = ['--images', images, '--model', model, '--vocab', join(TOY, 'bench', 'vocab.txt'), '--top-k', '10', '--oti-top-k', '10',
      '--part-size', '6', '--oti-steps', '30', '--oti-batch', '2', '--oti-pad-to', '77', '--threads', '1'];
    const config = join(root, 'config.sh');
    writeConfig(config, { out, model, llm, common });

    // submission 1: cancel one array task of step 3 once a batch of its first part is committed
    const s1 = submit();
    const cancelled = await cancelMidOti(t, s1.step3, out);
    await waitIdle(t, [s1.step1, s1.step2, s1.step2b, s1.step3], 600);
    t.deepEqual(states(s1.step1), ['COMPLETED', 'COMPLETED'], 'step 1: both shards');
    t.deepEqual(states(s1.step2), ['COMPLETED', 'COMPLETED'], 'step 2: both concept shards');
    t.deepEqual(states(s1.step2b), ['COMPLETED']);
    t.deepEqual(states(s1.step3).sort(), ['CANCELLED', 'COMPLETED']);
    // resources: config.sh's, per step (the .sbatch files name none)
    const expected = { step1: [1, '600M', '00:09:00'], step2: [2, '700M', '00:08:00'], step2b: [3, '800M', '00:07:00'], step3: [4, '900M', '00:06:00'], step4: [5, '1000M', '00:05:00'] } as const;
    for (const [step, [cpus, mem, time]] of Object.entries(expected)) {
      const job = jobs(s1[step as keyof typeof expected])[0];
      t.is(Number(job.NumCPUs), cpus, `${step} CPUs`);
      t.is(job.MinMemoryNode, mem, `${step} memory`);
      t.is(job.TimeLimit, time, `${step} time`);
    }
    // step 4 waits on an array with a cancelled task: never starts; the user cancels it and resubmits. slurmctld
    // marks the dependency as never satisfied on its next scheduling pass (until then the reason reads Dependency)
    await waitForReason(s1.step4, 'DependencyNeverSatisfied', 120);
    t.deepEqual(jobs(s1.step4).map((j) => [j.JobState, j.Reason]), [['PENDING', 'DependencyNeverSatisfied']]);
    sh(['scancel', s1.step4]);
    const firstRequests = llm.requests;
    t.true(firstRequests > 0);

    // submission 2: every step completes; the cancelled task resumes its part from the committed batches
    const s2 = submit();
    await waitIdle(t, Object.values(s2), 600);
    for (const [step, id] of Object.entries(s2)) t.true(states(id).every((s) => s === 'COMPLETED'), `${step}: ${states(id).join(',')} (${logTail(out, step)})`);
    t.is(llm.requests, firstRequests, 'the resubmission asks the LLM nothing: the caches hold every answer');
    const resumedLog = readFileSync(join(out, 'logs', `step3-${s2.step3}_${cancelled.task}.log`), 'utf8');
    const resumed = new RegExp(`oti part ${cancelled.part}: (\\d+) images from finished batches of an earlier run`).exec(resumedLog);
    t.truthy(resumed, resumedLog);
    t.is(Number(resumed?.[1]), cancelled.rows, 'every batch committed before scancel is reused: only the batch in flight was lost');
    t.log(`scancel mid-OTI: task ${cancelled.task}, part ${cancelled.part} of ${cancelled.partRows} images: ${cancelled.rows} images in ${cancelled.batches} committed batches kept, batch size 2`);

    // the corpus equals an unsharded run (same phrases folder) bit for bit
    const ref = join(root, 'unsharded');
    const unsharded = spawnSync(process.execPath, [BIN, 'run', ...common, '--out', ref, '--phrases', join(out, 'phrases'), '--cache-dir', TOY_CACHE_DIR],
      { encoding: 'utf8', env: { ...process.env, STARWORD_SOURCE: '1' } });
    t.is(unsharded.status, 0, unsharded.stderr);
    const whole = tokensOf(ref), merged = tokensOf(join(out, 'corpus'));
    t.is(whole.size, 12);
    t.deepEqual([...merged.keys()].sort(), [...whole.keys()].sort());
    let same = 0;
    for (const [id, row] of whole) {
      const m = merged.get(id)!;
      t.deepEqual(Array.from(m.token!), Array.from(row.token!), `token of ${id}`);
      t.deepEqual(Array.from(m.ema!), Array.from(row.ema!), `ema of ${id}`);
      if (m.seed === row.seed && m.steps === row.steps) same++;
    }
    t.is(same, 12);
    const phi = JSON.parse(readFileSync(join(out, 'corpus', 'phi', 'summary.json'), 'utf8')) as { images: number };
    t.is(phi.images, 12, 'phi trained once, on every shard\'s tokens');

    // submission 3 redoes nothing: only summaries, run manifests, the copied-back caches and phi's exports may be rewritten
    const before = snapshot(out);
    const s3 = submit();
    await waitIdle(t, Object.values(s3), 600);
    for (const [step, id] of Object.entries(s3)) t.true(states(id).every((s) => s === 'COMPLETED'), `${step}: ${states(id).join(',')}`);
    t.is(llm.requests, firstRequests, 'zero LLM requests');
    const after = snapshot(out);
    const rewritten = [...after].filter(([f, id]) => before.get(f) !== id).map(([f]) => f);
    const allowed = /^(caches\/[^/]+\.sqlite(-shm|-wal)?|phrases\/phrases-summary\.json|(shard-[^/]+|corpus)\/run\.json|corpus\/phi\/(phi\.onnx(\.data)?|phi\.safetensors|summary\.json|metrics\.arrow|losses\.(png|svg)))$/;
    t.deepEqual(rewritten.filter((f) => !allowed.test(f)), [], 'no part, corpus file or checkpoint rewritten');
    t.deepEqual([...before.keys()].filter((f) => !after.has(f)), [], 'nothing removed');
    const log4 = readFileSync(join(out, 'logs', `step4-${s3.step4}.log`), 'utf8');
    t.regex(log4, /\(unchanged, kept\)/);
    t.regex(log4, /0 epochs run now/);
    for (const task of [0, 1]) t.regex(readFileSync(join(out, 'logs', `step3-${s3.step3}_${task}.log`), 'utf8'), /oti: 0 ok, 0 failed, (\d+) of \1 parts already done/);

    // a failed copy of the cache fails its task: step 2 alone, with a starword that makes no cache
    const broken = join(root, 'broken.sh');
    writeFileSync(broken, `${readFileSync(config, 'utf8')}\nSTARWORD=(true)\nOUT=${join(root, 'out-broken')}\nLOGS=$OUT/logs\n`);
    mkdirSync(join(root, 'out-broken', 'logs'), { recursive: true });
    const j = sh(['sbatch', '--parsable', '--array=0', `--output=${join(root, 'out-broken', 'logs', 'step2-%A_%a.log')}`, '--time=2', '--mem=100M',
      join(ROOT, 'deploy', 'slurm', 'step2-phrases.sbatch')], { STARWORD_CONFIG: broken }).stdout.trim();
    await waitIdle(t, [j], 60);
    t.deepEqual(states(j), ['FAILED'], 'the copy of a missing cache fails the task');
    t.false(existsSync(join(root, 'out-broken', 'caches', 'cache-0.sqlite')));
  });

  /** Runs a command against this cluster. */
  function sh(argv: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...slurmEnv, ...env } });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  function submit(): Record<'step1' | 'step2' | 'step2b' | 'step3' | 'step4', string> {
    const r = sh(['bash', SUBMIT, join(root, 'config.sh')]);
    if (r.status !== 0) throw new Error(`submit.sh failed (${r.status}): ${r.stderr}`);
    const m = /step1 (\d+), step2 (\d+), step2b (\d+), step3 (\d+), step4 (\d+)/.exec(r.stdout);
    if (!m) throw new Error(`submit.sh said: ${r.stdout}`);
    return { step1: m[1], step2: m[2], step2b: m[3], step3: m[4], step4: m[5] };
  }

  /** scontrol's fields of each task of a job (array tasks in task order). */
  function jobs(id: string): Record<string, string>[] {
    const r = sh(['scontrol', '-o', 'show', 'job', id]);
    if (r.status !== 0) throw new Error(`scontrol show job ${id}: ${r.stderr}`);
    const rows = r.stdout.trim().split('\n').map((line) => Object.fromEntries([...line.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]])));
    return rows.sort((a, b) => Number(a.ArrayTaskId ?? 0) - Number(b.ArrayTaskId ?? 0));
  }
  const states = (id: string): string[] => jobs(id).map((j) => j.JobState);

  /** Waits until every task of job `id` gives `reason`, or `seconds` pass (the caller then asserts what it sees). */
  async function waitForReason(id: string, reason: string, seconds: number): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline && !jobs(id).every((j) => j.Reason === reason)) await new Promise((r) => setTimeout(r, 500));
  }

  /** Waits until none of the jobs is running or could still start. */
  async function waitIdle(t: ExecutionContext, ids: string[], seconds: number): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const live = ids.flatMap(jobs).filter((j) => ['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED'].includes(j.JobState)
        && j.Reason !== 'DependencyNeverSatisfied');
      if (!live.length) return;
      if (Date.now() > deadline) {
        t.fail(`jobs still ${live.map((j) => `${j.JobId}:${j.JobState}`).join(' ')} after ${seconds} s`);
        throw new Error('timed out');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Watches step 3's tasks; when one has committed a batch of a part it has not finished, scancels that
   * task and waits until it is gone. Returns what it had committed then.
   */
  async function cancelMidOti(t: ExecutionContext, step3: string, out: string) {
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      for (const task of jobs(step3).filter((j) => j.JobState === 'RUNNING')) {
        const shard = findRunDirs(out).find((d) => d.includes(`shard-0000${task.ArrayTaskId}-of-`));
        const oti = shard ? join(shard, 'oti') : '';
        const journal = existsSync(oti) ? readdirSync(oti).find((n) => /^tokens-\d+\.batches$/.test(n)) : undefined;
        if (!journal) continue;
        const part = Number(/^tokens-(\d+)/.exec(journal)![1]);
        const partRows = readPartStats(join(shard!, 'embed'), 'features', part).rows;
        // mid-part: at least one batch committed and at least one still to do
        let committed = 0;
        try { committed = listDoneParts(join(oti, journal), tokensSchema.KIND).length; } catch { continue; } // the part just finished
        if (committed === 0 || committed >= Math.ceil(partRows / 2)) continue;
        sh(['scancel', `${step3}_${task.ArrayTaskId}`]);
        for (let i = 0; i < 200 && jobs(step3).some((j) => j.ArrayTaskId === task.ArrayTaskId && j.JobState !== 'CANCELLED'); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        t.false(existsSync(join(oti, `tokens-${String(part).padStart(5, '0')}.stats.json`)), 'cancelled before the part was finished');
        const done = listDoneParts(join(oti, journal), tokensSchema.KIND);
        const rows = done.reduce((n, b) => n + readPartStats(join(oti, journal), tokensSchema.KIND, b).rows, 0);
        return { task: Number(task.ArrayTaskId), part, batches: done.length, rows, partRows };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no step 3 task committed an OTI batch within 10 minutes');
  }
}

function writeConfig(path: string, o: { out: string; model: string; llm: LlmTestServer; common: string[] }): void {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  writeFileSync(path, [
    '# written by test/deploy/slurm.test.ts: the only file the recipe needs',
    `OUT=${q(o.out)}`,
    `IMAGES=${q(o.common[o.common.indexOf('--images') + 1])}`,
    `MODEL=${q(o.model)}`,
    'SHARDS=2',
    'PHRASE_JOBS=2',
    'PHRASES_TOP_K=10',
    `STARWORD=(${q(process.execPath)} ${q(BIN)})`,
    'LOGS=$OUT/logs',
    `RUN_ARGS=(${o.common.map(q).join(' ')} --out "$OUT" --shard-count "$SHARDS" --phrases "$OUT/phrases")`,
    'LLM_ARGS=(--backend completions --n 4 --batch-n 4 --concurrency 2 --threads 1)',
    'PHI_ARGS=(--top-k 10 --epochs 2 --batch 4 --threads 1)',
    `export OPENAI_BASE_URL=${q(o.llm.baseURL)} STARWORD_LLM_MODEL=toy-llm OPENAI_API_KEY=none STARWORD_CACHE_DIR=${q(TOY_CACHE_DIR)} STARWORD_SOURCE=1`,
    'STEP1_CPUS=1; STEP1_MEM=600M; STEP1_TIME=9',
    'STEP2_CPUS=2; STEP2_MEM=700M; STEP2_TIME=8',
    'STEP2B_CPUS=3; STEP2B_MEM=800M; STEP2B_TIME=7',
    'STEP3_CPUS=4; STEP3_MEM=900M; STEP3_TIME=6',
    'STEP4_CPUS=5; STEP4_MEM=1000M; STEP4_TIME=5',
    'SBATCH_ARGS=()',
    'LOCAL=${TMPDIR:-/tmp}/starword-$(id -un)-${SLURM_JOB_ID:-local}',
    '',
  ].join('\n'));
}

function tokensOf(runDir: string): Map<string, tokensSchema.TokenRow> {
  const dir = join(runDir, 'oti');
  const rows = new Map<string, tokensSchema.TokenRow>();
  for (const i of listDoneParts(dir, tokensSchema.KIND)) {
    for (const row of tokensSchema.fromTable(readPart(dir, tokensSchema.KIND, i)).rows) rows.set(row.imageId, row);
  }
  return rows;
}

/** Every file under `dir` (logs aside) → inode, size and mtime: a rewrite changes it. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n), rel = relative(dir, p);
      if (rel === 'logs') continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.set(rel, `${st.ino}:${st.size}:${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

function logTail(out: string, step: string): string {
  const logs = existsSync(join(out, 'logs')) ? readdirSync(join(out, 'logs')).filter((n) => n.startsWith(`${step}-`)).sort() : [];
  return logs.length ? readFileSync(join(out, 'logs', logs[logs.length - 1]), 'utf8').slice(-600) : 'no log';
}
