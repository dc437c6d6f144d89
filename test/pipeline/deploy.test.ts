/**
 * The recipes in deploy/ are applied as they are, so they are checked as code: the YAML parses into
 * the Jobs the README describes, every starword command and option they use exists in the CLI, the
 * shell scripts parse (bash -n), and the submit scripts chain the steps in order (run against stand-in
 * sbatch and kubectl that record their arguments).
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { COMMANDS } from '../../pipeline/commands/index.ts';
import { tempDir } from '../helpers/test-utils.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const K8S = join(ROOT, 'deploy', 'k8s');
const SLURM = join(ROOT, 'deploy', 'slurm');
// js-yaml is in the lockfile already (ava's dependency); it has no types of its own
const yaml = createRequire(import.meta.url)('js-yaml') as { safeLoadAll(text: string): unknown[] };

type Obj = Record<string, any>;
const docs = (file: string): Obj[] => yaml.safeLoadAll(readFileSync(join(K8S, file), 'utf8')).filter(Boolean) as Obj[];
const k8sFiles = readdirSync(K8S).filter((f) => f.endsWith('.yaml')).sort();
const all = k8sFiles.flatMap((f) => docs(f).map((d) => ({ file: f, doc: d })));
const jobs = all.filter((x) => x.doc.kind === 'Job');
const config = all.find((x) => x.doc.kind === 'ConfigMap')!.doc;

const program = new Command('starword');
for (const c of COMMANDS) (await c.load()).register(program);

/** The long options of `starword <name> [sub]`, or null when there is no such command. */
function optionsOf(name: string, sub?: string): Set<string> | null {
  let cmd = program.commands.find((c) => c.name() === name);
  if (cmd && cmd.commands.length > 0) cmd = cmd.commands.find((c) => c.name() === sub);
  return cmd ? new Set(cmd.options.map((o) => o.long!)) : null;
}

/** Each `starword CMD [SUB] ...` invocation in a script: command, subcommand and its --options. */
function invocations(text: string): { cmd: string; sub: string; options: string[]; line: string }[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const out = [];
  for (const m of joined.matchAll(/(?:\bstarword|"\$\{STARWORD\[@\]\}")\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?([^;\n]*)/g)) {
    if (m[1] === 'is' || m[1] === 'reads' || m[1] === 'image') continue; // prose in comments
    out.push({ cmd: m[1], sub: m[2] ?? '', options: [...m[0].matchAll(/\s(--[a-z][a-z0-9-]*)/g)].map((o) => o[1]), line: m[0].trim() });
  }
  return out;
}

const strip = (text: string): string => text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');

function checkInvocations(t: import('ava').ExecutionContext, where: string, text: string): number {
  let n = 0;
  for (const inv of invocations(strip(text))) {
    const opts = optionsOf(inv.cmd, inv.sub);
    t.truthy(opts, `${where}: no command 'starword ${inv.cmd} ${inv.sub}' (${inv.line})`);
    for (const o of inv.options) t.true(opts!.has(o), `${where}: '${inv.cmd}' has no option ${o}`);
    // the shared argument lists go to the command they were written for
    if (/RUN_ARGS/.test(inv.line)) t.is(inv.cmd, 'run', `${where}: RUN_ARGS passed to ${inv.cmd}`);
    if (/LLM_ARGS/.test(inv.line)) t.is(inv.cmd, 'phrases', `${where}: LLM_ARGS passed to ${inv.cmd}`);
    if (/PHI_ARGS/.test(inv.line)) t.is(inv.cmd, 'phi', `${where}: PHI_ARGS passed to ${inv.cmd}`);
    n++;
  }
  return n;
}

const longOptions = (text: string): string[] => [...text.matchAll(/(?:^|\s|\()(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]);

test('Kubernetes: the Jobs of the four steps, indexed where they are per shard, on the shared volume', (t) => {
  const names = jobs.map((j) => j.doc.metadata.name);
  t.deepEqual(names, ['starword-step1-shards', 'starword-step2a-phrases', 'starword-step2b-assemble', 'starword-step3-oti', 'starword-step4-merge-phi']);
  const claims = new Set(all.filter((x) => x.doc.kind === 'PersistentVolumeClaim').map((x) => x.doc.metadata.name));
  const shards = Number(config.data.SHARDS), phraseJobs = Number(config.data.PHRASE_JOBS);
  for (const { file, doc } of jobs) {
    t.is(doc.apiVersion, 'batch/v1', file);
    t.is(`starword-${file.replace(/\.yaml$/, '')}`, doc.metadata.name, `${file}: the Job is named after its file (submit.sh waits on it)`);
    const pod = doc.spec.template.spec;
    t.is(pod.restartPolicy, 'Never', file);
    for (const v of pod.volumes.filter((v: Obj) => v.persistentVolumeClaim)) t.true(claims.has(v.persistentVolumeClaim.claimName), `${file}: claim ${v.persistentVolumeClaim.claimName}`);
    const mounted = new Set(pod.volumes.map((v: Obj) => v.name));
    for (const c of pod.containers) {
      for (const m of c.volumeMounts) t.true(mounted.has(m.name), `${file}: volume ${m.name}`);
      t.deepEqual(c.envFrom, [{ configMapRef: { name: config.metadata.name } }], file);
    }
  }
  const byName = Object.fromEntries(jobs.map((j) => [j.doc.metadata.name, j.doc.spec]));
  for (const [name, n] of [['starword-step1-shards', shards], ['starword-step3-oti', shards], ['starword-step2a-phrases', phraseJobs]] as const) {
    t.is(byName[name].completionMode, 'Indexed', name);
    t.is(byName[name].completions, n, `${name}: completions = the config's count`);
    t.is(byName[name].parallelism, n, name);
  }
  // the shard count starword is told is the Jobs' completions; phrases go to the folder OTI reads
  const runArgs = config.data.RUN_ARGS as string;
  t.regex(runArgs, new RegExp(`--shard-count ${shards}\\b`));
  t.regex(runArgs, new RegExp(`--phrases ${config.data.OUT}/phrases\\b`));
  for (const o of longOptions(runArgs)) t.true(optionsOf('run')!.has(o), `RUN_ARGS: run has no ${o}`);
  for (const o of longOptions(config.data.LLM_ARGS)) t.true(optionsOf('phrases')!.has(o), `LLM_ARGS: phrases has no ${o}`);
  for (const o of longOptions(config.data.PHI_ARGS)) t.true(optionsOf('phi')!.has(o), `PHI_ARGS: phi has no ${o}`);
  // no SQLite file is opened on the shared volume: every --cache is on the pod's local disk
  const scripts = jobs.flatMap((j) => j.doc.spec.template.spec.containers.flatMap((c: Obj) => [...c.command, ...c.args])).join('\n');
  for (const m of scripts.matchAll(/--cache (\S+)/g)) t.regex(m[1], /^\/local\//);
  let n = 0;
  for (const { file, doc } of jobs) n += checkInvocations(t, file, doc.spec.template.spec.containers.map((c: Obj) => c.args.join(' ')).join('\n'));
  t.is(n, 8);
});

test('Slurm: the scripts parse, use existing commands and options, and submit.sh chains the arrays with afterok', (t) => {
  const files = readdirSync(SLURM).filter((f) => /\.(sh|sbatch)$/.test(f));
  t.true(files.length >= 6);
  let n = 0;
  for (const f of files) {
    const r = spawnSync('bash', ['-n', join(SLURM, f)], { encoding: 'utf8' });
    t.is(r.status, 0, `${f}: ${r.stderr}`);
    n += checkInvocations(t, f, readFileSync(join(SLURM, f), 'utf8'));
  }
  t.is(n, 8);
  const cfg = readFileSync(join(SLURM, 'config.sh'), 'utf8');
  const arr = (name: string): string => new RegExp(`^${name}=\\((.*)\\)`, 'm').exec(cfg)![1];
  for (const o of longOptions(arr('RUN_ARGS'))) t.true(optionsOf('run')!.has(o), `RUN_ARGS: run has no ${o}`);
  for (const o of longOptions(arr('LLM_ARGS'))) t.true(optionsOf('phrases')!.has(o), `LLM_ARGS: phrases has no ${o}`);
  for (const o of longOptions(arr('PHI_ARGS'))) t.true(optionsOf('phi')!.has(o), `PHI_ARGS: phi has no ${o}`);
  // resources live in config.sh alone: the .sbatch files name none, submit.sh passes config.sh's
  for (const f of files.filter((x) => x.endsWith('.sbatch'))) {
    for (const line of readFileSync(join(SLURM, f), 'utf8').split('\n').filter((l) => l.startsWith('#SBATCH'))) {
      t.notRegex(line, /--(cpus-per-task|mem|mem-per-cpu|time|gres|partition|output)\b|\s-[cnt]\b/, `${f}: ${line}`);
    }
  }

  // a stand-in sbatch records each submission and answers with a job id
  const bin = tempDir('slurm');
  const log = join(bin, 'log');
  writeFileSync(join(bin, 'sbatch'), `#!/bin/bash\necho "$*" >> ${log}\necho $((100 + $(wc -l < ${log})))\n`);
  chmodSync(join(bin, 'sbatch'), 0o755);
  // config.sh's values, with its paths under a temporary folder (submit.sh makes the logs folder)
  const cfgCopy = join(bin, 'config.sh');
  writeFileSync(cfgCopy, `${cfg}\nOUT=${bin}/out; LOGS=$OUT/logs; SBATCH_ARGS=(--partition=cpu --account=proj)\n`);
  execFileSync('bash', [join(SLURM, 'submit.sh'), cfgCopy], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  const res = (step: string) => {
    const v = (k: string) => new RegExp(`\\b${step}_${k}=(\\S+?);?\\s`).exec(cfg)![1];
    return `--parsable --partition=cpu --account=proj --cpus-per-task=${v('CPUS')} --mem=${v('MEM')} --time=${v('TIME')} --output=${bin}/out/logs`;
  };
  t.deepEqual(calls, [
    `${res('STEP1')}/step1-%A_%a.log --array=0-15 step1-shards.sbatch`,
    `${res('STEP2')}/step2-%A_%a.log --dependency=afterok:101 --array=0-3 step2-phrases.sbatch`,
    `${res('STEP2B')}/step2b-%j.log --dependency=afterok:102 step2-assemble.sbatch`,
    `${res('STEP3')}/step3-%A_%a.log --dependency=afterok:103 --array=0-15 step3-oti.sbatch`,
    `${res('STEP4')}/step4-%j.log --dependency=afterok:104 step4-merge-phi.sbatch`,
  ]);
  t.true(calls[0].includes('--cpus-per-task=8 --mem=8G --time=24:00:00'), calls[0]);
});

test('Slurm: a step 2 task whose cache copy fails exits non-zero (set -e sees every command)', (t) => {
  // a stand-in starword that succeeds and writes nothing: the copy of the cache it should have made fails
  const dir = tempDir('slurm-copy');
  const cfg = join(dir, 'config.sh');
  writeFileSync(cfg, `${readFileSync(join(SLURM, 'config.sh'), 'utf8')}\nOUT=${dir}/out; STARWORD=(true); LOCAL=${dir}/local\n`);
  for (const step of ['step2-phrases.sbatch', 'step2-assemble.sbatch']) {
    const r = spawnSync('bash', [join(SLURM, step)], { env: { ...process.env, STARWORD_CONFIG: cfg, SLURM_ARRAY_TASK_ID: '0' }, encoding: 'utf8' });
    t.not(r.status, 0, `${step} exited 0 without its cache`);
    t.regex(r.stderr, /cp: cannot stat/, step);
    t.false(existsSync(join(dir, 'local')), `${step}: the node-local folder is removed on failure too`);
  }
  t.deepEqual(readdirSync(join(dir, 'out', 'caches')), [], 'no cache copied back');
});

test('Kubernetes submit.sh applies each step after the previous one completed, and stops at a failed Job', (t) => {
  t.is(spawnSync('bash', ['-n', join(K8S, 'submit.sh')]).status, 0);
  const bin = tempDir('k8s');
  const log = join(bin, 'log');
  // a stand-in kubectl: apply and wait succeed, except waiting on FAIL_JOB, which reports it failed
  writeFileSync(join(bin, 'kubectl'), `#!/bin/bash\necho "$*" >> ${log}\n`
    + 'if [[ "$*" == *"wait"* && -n "$FAIL_JOB" && "$*" == *"$FAIL_JOB"* ]]; then exit 1; fi\n'
    + 'if [[ "$*" == *"jsonpath"* ]]; then echo True; fi\n');
  chmodSync(join(bin, 'kubectl'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  execFileSync('bash', [join(K8S, 'submit.sh'), 'ml'], { env });
  const steps = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.replaceAll(`${K8S}/`, ''));
  t.deepEqual(steps.filter((l) => / apply /.test(l)).map((l) => l.split(' -f ').slice(1).join(',')), [
    'storage.yaml,config.yaml', 'step1-shards.yaml', 'step2a-phrases.yaml', 'step2b-assemble.yaml', 'step3-oti.yaml', 'step4-merge-phi.yaml',
  ]);
  t.true(steps.every((l) => l.startsWith('--namespace ml ')));
  writeFileSync(log, '');
  const failed = spawnSync('bash', [join(K8S, 'submit.sh')], { env: { ...env, FAIL_JOB: 'starword-step3-oti' }, encoding: 'utf8' });
  t.is(failed.status, 1);
  t.regex(failed.stderr, /job starword-step3-oti failed/);
  t.false(readFileSync(log, 'utf8').includes('step4-merge-phi.yaml'));
});

test('the Dockerfile npm-cis the package without the CUDA download and copies what exists', (t) => {
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  t.regex(text, /^ENV ONNXRUNTIME_NODE_INSTALL=skip$/m);
  t.regex(text, /^RUN npm ci\b/m);
  for (const m of text.matchAll(/^COPY (.+) \S+$/gm)) for (const src of m[1].split(/\s+/)) t.true(existsSync(join(ROOT, src)), `COPY ${src}`);
  t.regex(text, /^ENTRYPOINT \["starword"\]$/m);
});
