/**
 * `starword merge`: checks that the shards of a run are complete and consistent and writes an index of
 * their parts (merged.json); no data is copied. Checks: every shard present exactly once with the same
 * shard count, config fingerprint and image source; every planned part of every stage done (and computed
 * from the current plan); each image in exactly one shard, the one its id hashes to.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import * as images from '../../schemas/images.ts';
import { checkPart, listDoneParts, partPaths, readPart, readPartStats, writeFileAtomic } from '../../schemas/part-io.ts';
import { type IngestPlan, RUN_MANIFEST_FILE, planPath, readPlan, stageDir } from '../../schemas/run-layout.ts';
import { shardOf } from '../../stages/ingest/shard.ts';
import { UserError } from '../../util/errors.ts';
import { readRunManifest, underLock } from '../run-manifest.ts';
import { SHARD_DIR_RE } from '../sharding.ts';

export const MERGED_FILE = 'merged.json';

export interface MergedPart { shard: number; part: number; path: string; rows: number }

export interface MergedIndex {
  format: 'starword-merged';
  version: 1;
  createdAt: string;
  fingerprint: string | null;
  shardCount: number;
  images: number;
  shards: { index: number; dir: string; images: number; parts: number }[];
  /** per '<stage>/<kind>': every part of every shard, in shard then part order */
  parts: Record<string, MergedPart[]>;
  rows: Record<string, number>;
}

/** The run folders under `dir`: its shard-*-of-* subfolders, else `dir` itself when it holds a run. */
export function findRunDirs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder`);
  const subs = readdirSync(dir).filter((n) => SHARD_DIR_RE.test(n)).sort().map((n) => join(dir, n));
  if (subs.length > 0) return subs;
  if (existsSync(planPath(dir)) || existsSync(join(dir, RUN_MANIFEST_FILE))) return [dir];
  throw new UserError(`${dir}: neither a run folder nor a folder of shard-*-of-* run folders`);
}

/** Stages whose parts are one per images part, with the same index (the rest are chunked otherwise). */
const PLAN_ALIGNED_STAGES = new Set(['embed', 'concepts', 'oti']);
function isPlanAligned(key: string): boolean { return PLAN_ALIGNED_STAGES.has(key.split('/')[0]); }

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

interface ShardInfo { dir: string; plan: IngestPlan; fingerprint: string | null }

/**
 * `verify`: 'size' (default) checks each part's marker and file size, 'full' its content hash, Arrow
 * stream and rows as well; a part that fails is a problem naming the file and what differs.
 */
export async function mergeRuns(runDirsArg: string[], outDir: string, verify: 'size' | 'full' = 'size'): Promise<MergedIndex> {
  const problems: string[] = [];
  const sound = (dir: string, kind: string, p: number): boolean => {
    const check = checkPart(dir, kind, p, { level: verify });
    if (check !== 'ok') problems.push(`${check.path}: ${check.reason}`);
    return check === 'ok';
  };
  const shards: ShardInfo[] = [];
  for (const dirArg of runDirsArg) {
    const dir = resolve(dirArg);
    const plan = readPlan(dir);
    if (!plan) { problems.push(`${dirArg}: ingest has not finished there`); continue; }
    shards.push({ dir, plan, fingerprint: readRunManifest(dir)?.fingerprint ?? null });
  }
  if (shards.length === 0) throw new UserError(`cannot merge: ${problems.join('; ') || 'no run folders given'}`);

  const count = shards[0].plan.shard.count;
  const byIndex = new Map<number, ShardInfo>();
  for (const s of shards) {
    const where = relative(process.cwd(), s.dir) || '.';
    if (s.plan.shard.count !== count) problems.push(`${where}: shard count ${s.plan.shard.count}, others ${count}`);
    if (s.fingerprint !== shards[0].fingerprint) problems.push(`${where}: config fingerprint ${s.fingerprint} differs from ${shards[0].fingerprint}`);
    if (s.plan.sourceHash !== shards[0].plan.sourceHash) problems.push(`${where}: planned from a different image source`);
    const other = byIndex.get(s.plan.shard.index);
    if (other) problems.push(`shard ${s.plan.shard.index} appears twice (${other.dir} and ${s.dir})`);
    byIndex.set(s.plan.shard.index, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) problems.push(`shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing`);

  const kinds = [...new Set(shards.flatMap((s) => stageKinds(s.dir)))].sort();
  const ordered = [...byIndex.values()].sort((a, b) => a.plan.shard.index - b.plan.shard.index);
  const parts: Record<string, MergedPart[]> = Object.fromEntries(kinds.map((k) => [k, []]));
  const rows: Record<string, number> = Object.fromEntries(kinds.map((k) => [k, 0]));
  const seen = new Map<string, number>();
  let total = 0;
  const out = resolve(outDir);
  for (const s of ordered) {
    const index = s.plan.shard.index;
    const ingestDir = stageDir(s.dir, 'ingest');
    for (let p = 0; p < s.plan.parts; p++) {
      const partHash = readPartStats(ingestDir, images.KIND, p).partHash;
      for (const ids of images.fromTable(readPart(ingestDir, images.KIND, p)).map((r) => r.imageId)) {
        total++;
        const prev = seen.get(ids);
        if (prev !== undefined) problems.push(`image '${ids}' is in shards ${prev} and ${index}`);
        else seen.set(ids, index);
        if (shardOf(ids, count) !== index) problems.push(`image '${ids}' is in shard ${index} but belongs to shard ${shardOf(ids, count)}`);
      }
      for (const key of kinds.filter(isPlanAligned)) {
        const [stage, kind] = key.split('/');
        const dir = join(s.dir, stage);
        const paths = partPaths(dir, kind, p);
        if (!existsSync(paths.stats)) { problems.push(`shard ${index}: ${key} part ${p} not done`); continue; }
        if (!sound(dir, kind, p)) continue;
        const stats = readPartStats(dir, kind, p);
        if (stats.inputHash !== undefined && stats.inputHash !== partHash) {
          problems.push(`shard ${index}: ${key} part ${p} was computed from an older plan`);
        }
        parts[key].push({ shard: index, part: p, path: relative(out, paths.arrow), rows: stats.rows });
        rows[key] += stats.rows;
      }
    }
  }
  // kinds not aligned with the image parts (phrases are chunked by concept): every part they have
  for (const s of ordered) {
    for (const key of kinds.filter((k) => !isPlanAligned(k))) {
      const [stage, kind] = key.split('/');
      const dir = join(s.dir, stage);
      for (const p of listDoneParts(dir, kind)) {
        if (!sound(dir, kind, p)) continue;
        const stats = readPartStats(dir, kind, p);
        parts[key].push({ shard: s.plan.shard.index, part: p, path: relative(out, partPaths(dir, kind, p).arrow), rows: stats.rows });
        rows[key] += stats.rows;
      }
    }
  }
  if (problems.length === 0 && total !== shards[0].plan.sourceImages) {
    problems.push(`the shards hold ${total} images but the source lists ${shards[0].plan.sourceImages}`);
  }
  if (problems.length > 0) {
    const more = problems.length > 5 ? `; and ${problems.length - 5} more problems` : '';
    throw new UserError(`cannot merge: ${problems.slice(0, 5).join('; ')}${more}`);
  }
  const index: MergedIndex = {
    format: 'starword-merged', version: 1, createdAt: new Date().toISOString(),
    fingerprint: shards[0].fingerprint, shardCount: count, images: total,
    shards: ordered.map((s) => ({ index: s.plan.shard.index, dir: relative(out, s.dir) || '.', images: s.plan.images, parts: s.plan.parts })),
    parts, rows,
  };
  mkdirSync(out, { recursive: true });
  // one writer of the output folder; this also refuses while a shard inside it is still being written
  underLock(out, 'merge', () => writeFileAtomic(join(out, MERGED_FILE), `${JSON.stringify(index, null, 2)}\n`)).lock.release();
  return index;
}

export function register(program: Command): void {
  program.command('merge')
    .description('check that every shard of a run is complete and consistent, and index their parts (merged.json)')
    .argument('[dir]', 'a folder of shard-*-of-* run folders (merged.json is written there unless --out)')
    .option('--runs <dirs...>', 'the shard run folders, listed')
    .option('--out <dir>', 'where merged.json goes')
    .option('--verify', 'check every part\'s content hash and rows too (default: marker and size)')
    .action(async (dir: string | undefined, opts: { runs?: string[]; out?: string; verify?: boolean }) => {
      if (dir && opts.runs) throw new UserError('give a folder or --runs, not both');
      if (!dir && !opts.runs) throw new UserError('give the run folder, or --runs DIR... --out DIR');
      if (opts.runs && !opts.out) throw new UserError('--runs needs --out');
      const runs = dir ? findRunDirs(dir) : (opts.runs as string[]);
      const out = opts.out ?? (dir as string);
      const merged = await mergeRuns(runs, out, opts.verify ? 'full' : 'size');
      const kinds = Object.entries(merged.rows).map(([k, n]) => `${k} ${n} rows in ${merged.parts[k].length} parts`);
      process.stdout.write(`merged ${merged.shardCount} shard${merged.shardCount > 1 ? 's' : ''}, ${merged.images} images`
        + `${kinds.length ? `: ${kinds.join(', ')}` : ''} -> ${join(out, MERGED_FILE)}\n`);
    });
}
