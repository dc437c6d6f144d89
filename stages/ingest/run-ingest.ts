/**
 * The ingest stage: list the source, keep this shard's images in id order, split them into parts of
 * `partSize` rows and write them as 'images' parts, then the plan (ingest's done marker). Rerunning on
 * the same source is a no-op; a source that changed is refused unless `force`, because later stages'
 * parts were computed from the old plan.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as images from '../../schemas/images.ts';
import { isPartCurrent, writePart } from '../../schemas/part-io.ts';
import { type IngestPlan, planPath, readPlan, stageDir, writePlan } from '../../schemas/run-layout.ts';
import { SCHEMA_VERSION } from '../../schemas/columns.ts';
import { UserError } from '../../util/errors.ts';
import { sha256 } from '../../util/hash.ts';
import { type ImageRef } from './image-files.ts';
import { listImageDir } from './list-dir.ts';
import { listImageManifest } from './list-manifest.ts';
import { shardOf } from './shard.ts';

export const DEFAULT_PART_SIZE = 1000;

export interface IngestOptions {
  /** a folder of images or a CSV manifest */
  source: string;
  runDir: string;
  shard?: { index: number; count: number };
  partSize?: number;
  allowOutside?: boolean;
  /** replan even when the run folder holds a plan made from other images */
  force?: boolean;
  /** the source as listImageSource listed it (listed here when absent) */
  listing?: SourceListing;
  /** one line per images part found damaged and written again */
  log?: (line: string) => void;
}

/** What the source lists, before anything is written: `run` lists first, so a bad source leaves nothing behind. */
export interface SourceListing {
  path: string;
  isDir: boolean;
  images: ImageRef[];
  skippedLinks: number;
  skippedFiles: { count: number; byExtension: Record<string, number> } | null;
}

/** Lists a folder or manifest; a source that does not exist or holds no image is a UserError. */
export async function listImageSource(source: string, opts: { allowOutside?: boolean } = {}): Promise<SourceListing> {
  const sourcePath = resolve(source);
  if (!existsSync(sourcePath)) throw new UserError(`images source ${source}: no such file or folder`);
  const isDir = statSync(sourcePath).isDirectory();
  let listing: SourceListing;
  if (isDir) {
    const dir = await listImageDir(sourcePath);
    listing = { path: sourcePath, isDir, images: dir.images, skippedLinks: dir.skippedLinks, skippedFiles: dir.skippedFiles };
  } else {
    listing = { path: sourcePath, isDir, images: await listImageManifest(sourcePath, opts), skippedLinks: 0, skippedFiles: null };
  }
  if (listing.images.length === 0) throw new UserError(`images source ${source}: no images found`);
  return listing;
}

export interface IngestSummary {
  plan: IngestPlan;
  /** true when the folder already held this very plan */
  skipped: boolean;
  /** symlinks left out because they lead outside the folder */
  skippedLinks: number;
  seconds: number;
}

function hashRefs(refs: readonly ImageRef[]): string {
  return sha256(refs.map((r) => `${r.id}\t${r.path}\n`).join(''));
}

/** Ids only: shards on machines that mount the images at different paths still agree on it. */
function hashIds(refs: readonly ImageRef[]): string {
  return sha256(refs.map((r) => `${r.id}\n`).join(''));
}

export async function runIngest(opts: IngestOptions): Promise<IngestSummary> {
  const t0 = performance.now();
  const shard = opts.shard ?? { index: 0, count: 1 };
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isInteger(partSize) || partSize < 1) throw new UserError(`--part-size must be a positive integer, got ${partSize}`);
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new UserError(`shard ${shard.index} of ${shard.count} is not valid`);
  }

  const listing = opts.listing ?? await listImageSource(opts.source, { allowOutside: opts.allowOutside });
  const { isDir, skippedLinks } = listing;
  const sourcePath = listing.path;
  const all = listing.images;

  const mine = shard.count === 1 ? all : all.filter((r) => shardOf(r.id, shard.count) === shard.index);
  const plan: IngestPlan = {
    format: 'starword-plan',
    version: 1,
    source: { type: isDir ? 'dir' : 'manifest', path: sourcePath },
    sourceImages: all.length,
    sourceHash: hashIds(all),
    shard: { index: shard.index, count: shard.count },
    partSize,
    images: mine.length,
    parts: Math.ceil(mine.length / partSize),
    planHash: hashRefs(mine),
    ...(listing.skippedFiles ? { skippedFiles: listing.skippedFiles } : {}),
    ...(skippedLinks > 0 ? { skippedLinks } : {}),
  };

  const existing = readPlan(opts.runDir);
  if (existing) {
    const differ: string[] = [];
    if (existing.shard.index !== plan.shard.index || existing.shard.count !== plan.shard.count) differ.push('shard');
    if (existing.sourceHash !== plan.sourceHash || existing.planHash !== plan.planHash) differ.push('images');
    if (existing.partSize !== plan.partSize) differ.push('part size');
    if (differ.length === 0) {
      // a part found damaged (and moved aside) since is written again, from the same listing
      await writeParts(opts.runDir, mine, partSize, shard.index, shard.count, (p) => !isPartCurrent(stageDir(opts.runDir, 'ingest'), images.KIND, p, {}, opts.log));
      return { plan: existing, skipped: true, skippedLinks, seconds: (performance.now() - t0) / 1000 };
    }
    if (!opts.force) {
      throw new UserError(`${opts.runDir} was planned from a different ${differ.join(', ')} `
        + `(${existing.images} images in ${existing.parts} parts, shard ${existing.shard.index}/${existing.shard.count}, part size ${existing.partSize}); `
        + 'use another --out, or --force to replan (later stages then redo every part)');
    }
    rmSync(planPath(opts.runDir), { force: true });
  }

  const dir = stageDir(opts.runDir, 'ingest');
  await writeParts(opts.runDir, mine, partSize, shard.index, shard.count, () => true);
  removeStaleParts(dir, plan.parts);
  writePlan(opts.runDir, plan);
  return { plan, skipped: false, skippedLinks, seconds: (performance.now() - t0) / 1000 };
}

/** Writes the images parts of `mine` that `wanted` asks for. */
async function writeParts(runDir: string, mine: ImageRef[], partSize: number, shardIndex: number, shardCount: number,
  wanted: (part: number) => boolean): Promise<void> {
  const dir = stageDir(runDir, 'ingest');
  for (let p = 0; p * partSize < mine.length; p++) {
    if (!wanted(p)) continue;
    const refs = mine.slice(p * partSize, (p + 1) * partSize);
    const table = images.toTable(refs.map((r) => ({ imageId: r.id, path: r.path, shard: shardIndex })));
    await writePart(dir, images.KIND, p, table, SCHEMA_VERSION, { partHash: hashRefs(refs), shardIndex, shardCount });
  }
}

/** After a forced replan with fewer parts, the old higher-numbered parts must not look like part of it. */
function removeStaleParts(dir: string, parts: number): void {
  const re = new RegExp(`^${images.KIND}-(\\d+)\\.`);
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (m && Number(m[1]) >= parts) rmSync(join(dir, name), { force: true });
  }
}
