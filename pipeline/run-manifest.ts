/**
 * The run manifest, `<run>/run.json`: everything needed to say what a run folder holds and to refuse
 * mixing results: the full config, the model's hash, package versions, vocabulary and phrase sources,
 * seeds, the shard layout, and per-stage timings and counts (updated as stages finish, written
 * atomically). `config`, `model`, `sources`, `seeds` and the shard count form the fingerprint; `runtime`
 * (threads, batch sizes, logging) may change between resumes without changing results.
 */
import { PACKAGE_ROOT } from '../util/package-root.ts';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkpointDir } from '../clip/training/training-checkpoint.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { RUN_MANIFEST_FILE, type StageName, planPath } from '../schemas/run-layout.ts';
import { UserError } from '../util/errors.ts';
import { hashJson, stableStringify } from '../util/hash.ts';
import { type RunLock, acquireRunLock } from '../util/run-lock.ts';

export interface StageRecord {
  status: 'running' | 'done';
  startedAt: string;
  finishedAt?: string;
  /** summed over the sessions that finished the stage (a resume adds its own, never replaces) */
  seconds?: number;
  /** the work counts its declaration names (StageDefinition.resumedCounts) summed over sessions; the others (totals) as the last session saw them */
  counts: Record<string, number>;
  timings: Record<string, number>;
  /** sessions that finished this stage */
  sessions?: number;
  /** where the latest session ran it: 'webgpu on NVIDIA H100 80GB HBM3' (a run may embed on the CPU and invert on a GPU) */
  device?: string;
}

/** What decides the results: two runs with equal inputs here may share a folder. */
export interface RunIdentity {
  config: Record<string, unknown>;
  model: { dir: string; hash: string } | null;
  /** vocabulary, phrase and template sources: paths/backends and content hashes */
  sources: Record<string, unknown>;
  seeds: Record<string, number>;
  shard: { index: number; count: number };
}

export interface RunRequest extends RunIdentity {
  runtime?: Record<string, unknown>;
  /** choices made for the user (e.g. the swap picked for a backend), shown by `inspect`; not part of the fingerprint */
  notes?: string[];
  /** what the user should know about the results (e.g. template phrases feeding L_gpt on a real checkpoint), shown by `inspect` */
  warnings?: string[];
}

export interface RunManifest extends RunIdentity {
  format: 'starword-run';
  version: 1;
  createdAt: string;
  updatedAt: string;
  fingerprint: string;
  runtime: Record<string, unknown>;
  notes?: string[];
  warnings?: string[];
  packages: Record<string, string>;
  stages: Record<string, StageRecord>;
}

const PACKAGES = ['onnxruntime-node', 'sharp', 'apache-arrow', 'csv-parse', 'openai', 'p-queue', 'better-sqlite3', 'commander', 'zod'];
const ROOT = PACKAGE_ROOT;

/** Versions of starword, its main dependencies (as installed) and Node. */
export function packageVersions(root = ROOT): Record<string, string> {
  const version = (file: string): string => {
    try {
      return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      return 'missing';
    }
  };
  const out: Record<string, string> = { starword: version(join(root, 'package.json')), node: process.version };
  // an installed starword finds its dependencies hoisted into the user's node_modules, further up
  const find = (pkg: string): string => {
    for (let dir = root; ; dir = dirname(dir)) {
      const file = join(dir, 'node_modules', pkg, 'package.json');
      if (existsSync(file) || dirname(dir) === dir) return file;
    }
  };
  for (const pkg of PACKAGES) out[pkg] = version(find(pkg));
  return out;
}

function identityView(id: RunIdentity): Record<string, unknown> {
  return { config: id.config, model: id.model?.hash ?? null, sources: id.sources, seeds: id.seeds, shardCount: id.shard.count };
}

/** Equal for every shard of one run (the shard index is not part of it). */
export function configFingerprint(id: RunRequest): string {
  return hashJson(identityView(id));
}

/** Dotted paths whose values differ between two JSON-able values. */
export function diffKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return stableStringify(a ?? null) === stableStringify(b ?? null) ? [] : [prefix || '(root)'];
}

function show(v: unknown): string {
  const s = v === undefined ? 'unset' : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function lookup(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

const STAGE_NAMES: readonly StageName[] = ['ingest', 'embed', 'concepts', 'phrases', 'oti', 'phi'];

/** Whether `dir` holds any file, at any depth. */
function holdsAFile(dir: string): boolean {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? holdsAFile(join(dir, e.name)) : true));
}

/**
 * Whether a stage wrote anything that its options decided: the ingest plan, or any file in the stage's
 * folder (a finished part, or an interrupted one's journal). A stage with nothing there may take other
 * options than the run recorded: nothing would mix.
 */
export function stageHasOutput(runDir: string, stage: string, outDir = join(runDir, stage)): boolean {
  if (stage === 'ingest') return existsSync(planPath(runDir));
  // phi's epoch-0 report (the initial weights, redone by a fresh start) is not training: its checkpoints are
  if (stage === 'phi') return holdsAFile(checkpointDir(outDir)) || existsSync(join(outDir, 'phi.safetensors'));
  return holdsAFile(outDir);
}

/** The stage an identity key belongs to ('config.oti.steps', 'seeds.phi', 'sources.initFrom' → oti), or null. */
function stageOfKey(key: string): string | null {
  if (key === 'config.embed.partSize') return 'ingest'; // the plan's, recorded with embed's options
  const [head, name] = key.split('.');
  if ((head === 'config' || head === 'seeds') && (STAGE_NAMES as readonly string[]).includes(name)) return name;
  if (key === 'sources.initFrom') return 'oti';
  return null;
}

/**
 * Refuses to continue a run whose results-deciding inputs changed, naming what changed, unless
 * `force`. Options of a stage that has written nothing yet (see stageHasOutput) are not compared when
 * `runDir` is given: `run --until concepts` may be followed by other OTI options. Returns the differing
 * keys (empty when compatible) so a forced run can say what it overrode.
 */
export function checkCompatible(existing: RunRequest, requested: RunRequest, force: boolean, runDir?: string): string[] {
  const a = identityView(existing);
  const b = identityView(requested);
  const keys = diffKeys(a, b).filter((k) => {
    const stage = runDir === undefined ? null : stageOfKey(k);
    return stage === null || stageHasOutput(runDir!, stage);
  });
  if (existing.shard.index !== requested.shard.index) keys.push('shardIndex');
  if (keys.length > 0 && !force) {
    const shown = keys.slice(0, 6).map((k) => (k === 'shardIndex'
      ? `shard index ${existing.shard.index} → ${requested.shard.index}`
      : `${k} ${show(lookup(a, k))} → ${show(lookup(b, k))}`));
    const more = keys.length > 6 ? ` and ${keys.length - 6} more` : '';
    throw new UserError(`this run folder was made with a different configuration (${shown.join(', ')}${more}); `
      + 'rerun with the same options, use another --out, or pass --force to continue anyway (results may then mix)');
  }
  return keys;
}

export function runManifestPath(runDir: string): string {
  return join(runDir, RUN_MANIFEST_FILE);
}

export function readRunManifest(runDir: string): RunManifest | null {
  const path = runManifestPath(runDir);
  if (!existsSync(path)) return null;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as RunManifest;
    if (m.format !== 'starword-run') throw new Error('not a starword run manifest');
    return m;
  } catch (err) {
    throw new UserError(`${path}: ${(err as Error).message}`);
  }
}

export function writeRunManifest(runDir: string, manifest: RunManifest): void {
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(runManifestPath(runDir), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Creates the run folder's manifest, or checks the existing one against `request` (see checkCompatible)
 * and refreshes its runtime and package versions. Stage records are kept. `onlyWritten`: a stage's options
 * are compared only once the stage wrote something (what `run` does; see stageHasOutput).
 */
export function openRunManifest(runDir: string, request: RunRequest, force = false, onlyWritten = false): RunManifest {
  const now = new Date().toISOString();
  const existing = readRunManifest(runDir);
  if (existing) checkCompatible(existing, request, force, onlyWritten ? runDir : undefined);
  const manifest: RunManifest = {
    format: 'starword-run',
    version: 1,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    fingerprint: configFingerprint(request),
    config: request.config,
    model: request.model,
    sources: request.sources,
    seeds: request.seeds,
    shard: request.shard,
    runtime: request.runtime ?? {},
    notes: request.notes ?? [],
    warnings: request.warnings ?? [],
    packages: packageVersions(),
    stages: existing?.stages ?? {},
  };
  writeRunManifest(runDir, manifest);
  return manifest;
}

function updateStage(runDir: string, stage: string, fn: (prev: StageRecord | undefined) => StageRecord): RunManifest {
  const m = readRunManifest(runDir);
  if (!m) throw new Error(`${runManifestPath(runDir)}: missing (open the run before recording stages)`);
  m.stages[stage] = fn(m.stages[stage]);
  m.updatedAt = new Date().toISOString();
  writeRunManifest(runDir, m);
  return m;
}

/** Adds a warning found while the run goes (e.g. phrases that came out empty), shown by `inspect` and `report`. */
export function addRunWarning(runDir: string, warning: string): RunManifest {
  const m = readRunManifest(runDir);
  if (!m) throw new Error(`${runManifestPath(runDir)}: missing (open the run before recording warnings)`);
  if (!(m.warnings ?? []).includes(warning)) m.warnings = [...(m.warnings ?? []), warning];
  m.updatedAt = new Date().toISOString();
  writeRunManifest(runDir, m);
  return m;
}

/**
 * Marks the stage running on `device` ('cpu on AMD EPYC'); what earlier sessions recorded (seconds, counts) stays,
 * to be added to.
 */
export function startStage(runDir: string, stage: string, device?: string): RunManifest {
  return updateStage(runDir, stage, (prev) => ({
    ...(prev ?? { counts: {}, timings: {} }), status: 'running', startedAt: prev?.startedAt ?? new Date().toISOString(),
    ...(device ? { device } : {}),
  }));
}

/**
 * Records a session's end: its seconds, and the counts named in `resumedCounts` (the stage declaration's,
 * see StageDefinition), added to the earlier sessions'; the other counts replace theirs.
 */
export function finishStage(runDir: string, stage: string,
  result: { seconds: number; counts?: Record<string, number>; timings?: Record<string, number>; resumedCounts?: readonly string[] }): RunManifest {
  return updateStage(runDir, stage, (prev) => {
    const additive = new Set(result.resumedCounts ?? []);
    const counts = { ...(result.counts ?? {}) };
    for (const k of additive) if (typeof counts[k] === 'number' && typeof prev?.counts[k] === 'number') counts[k] += prev.counts[k];
    return {
      status: 'done',
      startedAt: prev?.startedAt ?? new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      seconds: Math.round(((prev?.seconds ?? 0) + result.seconds) * 1e6) / 1e6,
      counts,
      timings: result.timings ?? {},
      sessions: (prev?.sessions ?? (prev?.seconds !== undefined ? 1 : 0)) + 1,
      ...(prev?.device ? { device: prev.device } : {}),
    };
  });
}

/**
 * Runs `fn` holding the lock of `dir` (see util/run-lock.ts); when `fn` throws, the lock is released
 * and a folder that the lock alone created is removed again, so a refused command leaves nothing behind.
 * On success the lock is returned, held: the caller releases it when its writing is over.
 */
export function underLock<T>(dir: string, command: string, fn: (lock: RunLock) => T): { result: T; lock: RunLock } {
  const existed = existsSync(dir);
  const lock = acquireRunLock(dir, command);
  try {
    return { result: fn(lock), lock };
  } catch (err) {
    lock.release();
    if (!existed) try { if (readdirSync(dir).length === 0) rmdirSync(dir); } catch { /* leave it */ }
    throw err;
  }
}

/**
 * openRunManifest under the run folder's lock: the config check and the write happen while no other
 * writer can change run.json. Returns the manifest and the held lock (release it when the run ends).
 */
export function openRunManifestLocked(runDir: string, request: RunRequest, force = false, command = 'run',
  onlyWritten = true): { manifest: RunManifest; lock: RunLock } {
  const { result, lock } = underLock(runDir, command, () => openRunManifest(runDir, request, force, onlyWritten));
  return { manifest: result, lock };
}

/**
 * The guard of a stage command run alone on a run folder (`starword oti --run DIR`, `phi`): takes the
 * lock, and when the folder has a run manifest, refuses (unless `force`) a model or stage config other
 * than the one the run recorded, naming what differs; a stage the manifest has no config for yet gets
 * this one recorded. Returns the held lock.
 */
export function guardStageRun(runDir: string, stage: string, config: unknown, modelHash: string, force = false,
  outDir = join(runDir, stage)): RunLock {
  // no folder, nothing to guard: the stage itself says what is missing, and nothing is created here
  if (!existsSync(runDir)) return { dir: runDir, path: '', swept: [], release: () => {} };
  return underLock(runDir, stage, () => {
    const m = readRunManifest(runDir);
    if (!m) return;
    const recorded = m.config[stage];
    const diffs = [
      ...(m.model && m.model.hash !== modelHash ? [`model ${show(m.model.hash)} → ${show(modelHash)}`] : []),
      // a stage that wrote nothing yet takes these options (see stageHasOutput)
      ...(recorded === undefined || recorded === null || !stageHasOutput(runDir, stage, outDir) ? [] : diffKeys(recorded, config).map((k) => (k === '(root)'
        ? `${stage} config` : `${stage}.${k} ${show(lookup(recorded, k))} → ${show(lookup(config, k))}`))),
    ];
    if (diffs.length > 0 && !force) {
      throw new UserError(`this run folder was made with a different configuration (${diffs.slice(0, 6).join(', ')}`
        + `${diffs.length > 6 ? ` and ${diffs.length - 6} more` : ''}); rerun with the same options, or pass --force to redo the ${stage} parts with these`);
    }
    if (diffs.length > 0 || diffKeys(recorded ?? null, config).length > 0) {
      m.config[stage] = config as Record<string, unknown>;
      if (m.model && m.model.hash !== modelHash) m.model = { ...m.model, hash: modelHash };
      m.fingerprint = configFingerprint(m);
      m.updatedAt = new Date().toISOString();
      writeRunManifest(runDir, m);
    }
  }).lock;
}

/**
 * A stage command on an existing run folder draws from the concepts its concepts stage kept: its top-k may
 * not exceed the run's `--top-k` (read from run.json when the run was made by `starword run`).
 */
export function checkTopKAgainstRun(runDir: string, topK: number, flag: string): void {
  const kept = (readRunManifest(runDir)?.config?.concepts as { topK?: unknown } | undefined)?.topK;
  if (typeof kept === 'number' && topK > kept) {
    throw new UserError(`${flag} ${topK} is more than the ${kept} concepts per image this run kept (its --top-k)`);
  }
}
