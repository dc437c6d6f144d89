/**
 * `starword merge`: checks that the shards of a run are complete and consistent, then builds ONE corpus
 * (pipeline/corpus.ts) that every later command takes as a run folder: `phi --run`, `invert
 * --features`, `retrieve`/`evaluate --index/--tokens`, `inspect`. Checks: every shard present exactly
 * once with the same shard count, config fingerprint and image source (a hash of the ids, not their
 * paths, so mount points may differ); every planned part of every stage done (and computed from the
 * current plan); each image in exactly one shard, the one its id hashes to; one phrases folder for all.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as images from '../schemas/images.ts';
import * as phrasesSchema from '../schemas/phrases.ts';
import { checkPart, listDoneParts, partPaths, readPart, readPartStats } from '../schemas/part-io.ts';
import { RUN_MANIFEST_FILE, planPath, readPlan, stageDir } from '../schemas/run-layout.ts';
import { shardOf } from '../stages/ingest/shard.ts';
import { UserError } from '../util/errors.ts';
import { type CorpusIndex, type CorpusShard, type PlaceMode, type PlannedPart, buildCorpus } from './corpus.ts';
import { readRunManifest, underLock } from './run-manifest.ts';
import { SHARD_DIR_RE } from './sharding.ts';

/** The run folders under `dir`: its shard-*-of-* subfolders, else `dir` itself when it holds a run. */
export function findRunDirs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder`);
  const subs = readdirSync(dir).filter((n) => SHARD_DIR_RE.test(n)).sort().map((n) => join(dir, n));
  if (subs.length > 0) return subs;
  if (existsSync(planPath(dir)) || existsSync(join(dir, RUN_MANIFEST_FILE))) return [dir];
  throw new UserError(`${dir}: neither a run folder nor a folder of shard-*-of-* run folders`);
}

/** Stages whose parts are one per images part, with the same index (phrases are chunked by concept). */
const PLAN_ALIGNED_STAGES = new Set(['embed', 'concepts', 'oti']);
/** True for '<stage>/<kind>' whose parts are one per images part (false for phrases, chunked by concept). */
export function isPlanAligned(key: string): boolean { return PLAN_ALIGNED_STAGES.has(key.split('/')[0]); }

/** '<stage>/<kind>' of every part kind with at least one done part, outside ingest. */
export function stageKinds(runDir: string): string[] {
  const out = new Set<string>();
  if (!existsSync(runDir)) return [];
  for (const stage of readdirSync(runDir)) {
    const dir = join(runDir, stage);
    if (stage === 'ingest' || !statSync(dir).isDirectory()) continue;
    for (const name of readdirSync(dir)) {
      const m = /^(.+)-\d{5,}\.stats\.json$/.exec(name);
      if (m) out.add(`${stage}/${m[1]}`);
    }
  }
  return [...out].sort();
}

export interface MergeOptions {
  /** the one phrases folder of the run (default: <out>/phrases, else the shards' own when there is one shard) */
  phrases?: string;
  /** copy the parts instead of hard-linking them */
  copy?: boolean;
  /** 'full' (default) checks each part's marker, size, content hash, Arrow stream and rows; 'size' the marker and size only */
  verify?: 'size' | 'full';
}

/** The folder of a run's one phrases folder, or null when the run has no phrases at all. */
function phrasesSource(root: string | null, shards: CorpusShard[], given: string | undefined, problems: string[]): string | null {
  const hasParts = (dir: string): boolean => existsSync(dir) && readdirSync(dir).length > 0;
  if (given !== undefined) {
    const dir = resolve(given);
    if (!hasParts(dir)) problems.push(`--phrases ${given}: no such folder, or empty`);
    return dir;
  }
  if (root && hasParts(join(root, 'phrases'))) return join(root, 'phrases');
  const recorded = [...new Set(shards.map((s) => (s.manifest?.runtime?.paths as { phrases?: string | null } | undefined)?.phrases ?? null))];
  if (recorded.length === 1 && recorded[0] && hasParts(recorded[0])) return recorded[0];
  const own = shards.filter((s) => listDoneParts(stageDir(s.dir, 'phrases'), phrasesSchema.KIND).length > 0);
  if (own.length === 0) return null;
  if (shards.length === 1) return stageDir(shards[0].dir, 'phrases');
  problems.push(`${own.length} shards made their own phrases, which would be duplicated: make one phrases folder for all shards `
    + '(`starword phrases --concepts-from OUT --out OUT/phrases`, then `run --phrases OUT/phrases`) or name it with --phrases DIR');
  return null;
}

export async function mergeRuns(runDirsArg: string[], corpusArg: string, opts: MergeOptions = {}, root: string | null = null): Promise<CorpusIndex & { kept: boolean; keptEntries: string[] }> {
  const problems: string[] = [];
  // a part that fails its check is a problem naming the file and what differs
  const sound = (dir: string, kind: string, p: number): boolean => {
    const check = checkPart(dir, kind, p, { level: opts.verify ?? 'full' });
    if (check !== 'ok') problems.push(`${check.path}: ${check.reason}`);
    return check === 'ok';
  };
  const shards: CorpusShard[] = [];
  for (const dirArg of runDirsArg) {
    const dir = resolve(dirArg);
    const plan = readPlan(dir);
    if (!plan) { problems.push(`${dirArg}: ingest has not finished there`); continue; }
    shards.push({ dir, plan, manifest: readRunManifest(dir) });
  }
  if (shards.length === 0) throw new UserError(`cannot merge: ${problems.join('; ') || 'no run folders given'}`);

  const count = shards[0].plan.shard.count;
  const fingerprint = (s: CorpusShard): string | null => s.manifest?.fingerprint ?? null;
  const byIndex = new Map<number, CorpusShard>();
  for (const s of shards) {
    const where = relative(process.cwd(), s.dir) || '.';
    if (s.plan.shard.count !== count) problems.push(`${where}: shard count ${s.plan.shard.count}, others ${count}`);
    if (fingerprint(s) !== fingerprint(shards[0])) problems.push(`${where}: config fingerprint ${fingerprint(s)} differs from ${fingerprint(shards[0])}`);
    if (s.plan.sourceHash !== shards[0].plan.sourceHash) problems.push(`${where}: planned from a different image source`);
    const other = byIndex.get(s.plan.shard.index);
    if (other) problems.push(`shard ${s.plan.shard.index} appears twice (${other.dir} and ${s.dir})`);
    byIndex.set(s.plan.shard.index, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) problems.push(`shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing`);

  const kinds = [...new Set(shards.flatMap((s) => stageKinds(s.dir)))].filter(isPlanAligned).sort();
  const ordered = [...byIndex.values()].sort((a, b) => a.plan.shard.index - b.plan.shard.index);
  const planned: PlannedPart[] = [];
  const seen = new Map<string, number>();
  let total = 0, corpusPart = 0;
  for (const s of ordered) {
    const index = s.plan.shard.index;
    const ingestDir = stageDir(s.dir, 'ingest');
    for (let p = 0; p < s.plan.parts; p++, corpusPart++) {
      const ingestStats = readPartStats(ingestDir, images.KIND, p);
      planned.push({ key: `ingest/${images.KIND}`, part: corpusPart, shard: index, shardPart: p, dir: s.dir, rows: ingestStats.rows });
      for (const ids of images.fromTable(readPart(ingestDir, images.KIND, p)).map((r) => r.imageId)) {
        total++;
        const prev = seen.get(ids);
        if (prev !== undefined) problems.push(`image '${ids}' is in shards ${prev} and ${index}`);
        else seen.set(ids, index);
        if (shardOf(ids, count) !== index) problems.push(`image '${ids}' is in shard ${index} but belongs to shard ${shardOf(ids, count)}`);
      }
      for (const key of kinds) {
        const [stage, kind] = key.split('/');
        const dir = join(s.dir, stage);
        const paths = partPaths(dir, kind, p);
        if (!existsSync(paths.stats)) { problems.push(`shard ${index}: ${key} part ${p} not done`); continue; }
        if (!sound(dir, kind, p)) continue;
        const stats = readPartStats(dir, kind, p);
        if (stats.inputHash !== undefined && stats.inputHash !== ingestStats.partHash) {
          problems.push(`shard ${index}: ${key} part ${p} was computed from an older plan`);
        }
        planned.push({ key, part: corpusPart, shard: index, shardPart: p, dir: s.dir, rows: stats.rows });
      }
    }
  }
  if (problems.length === 0 && total !== shards[0].plan.sourceImages) {
    problems.push(`the shards hold ${total} images but the source lists ${shards[0].plan.sourceImages}`);
  }
  const phrasesDir = phrasesSource(root, ordered, opts.phrases, problems);
  if (problems.length > 0) {
    const more = problems.length > 5 ? `; and ${problems.length - 5} more problems` : '';
    throw new UserError(`cannot merge: ${problems.slice(0, 5).join('; ')}${more}`);
  }
  const corpusDir = resolve(corpusArg);
  mkdirSync(resolve(corpusDir, '..'), { recursive: true });
  const mode: PlaceMode = opts.copy ? 'copy' : 'link';
  // one writer: this also refuses while a shard inside the run folder is still being written
  const { result, lock } = underLock(root ?? dirname(corpusDir), 'merge', () => buildCorpus(corpusDir, ordered, planned, phrasesDir, mode));
  lock.release();
  return { ...result.index, kept: result.kept, keptEntries: result.keptEntries };
}
