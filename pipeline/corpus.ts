/**
 * The corpus a sharded run ends in: ONE run folder that phi, oti, invert, retrieve, evaluate and inspect
 * read like any other, built by `starword merge` from the shards' finished parts.
 *
 *   <corpus>/corpus.json      what came from where: corpus part k ← shard s part p, rows, how it was placed
 *   <corpus>/run.json         a run manifest (the shards' config, as one shard)
 *   <corpus>/ingest/plan.json + images-NNNNN.arrow, embed/, concepts/, oti/  the shards' parts, renumbered
 *   <corpus>/phrases/         the one phrases folder of the run (deduplicated: made once for all shards)
 *
 * Arrow files are hard links to the shards' files (no extra disk; parts are never rewritten in place,
 * so a link is as safe as a copy), or copies where a link is impossible (another file system) or asked
 * for. Each part's stats marker is written anew with its corpus index, last, as the done marker.
 *
 * A rebuild replaces only what merge makes (the entries above); everything else in the corpus folder
 * (phi/ with its checkpoints, pic2word/, lincir/, a user's files) stays where it is. The new corpus is
 * built in `<corpus>.tmp-<host>-<pid>-<hex>` and its entries swapped in, corpus.json last; the folders of a
 * merge killed on the way are removed by the next merge (see sweepDeadBuilds).
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { hostTag, processAlive, tempOwner, tempPath } from '../util/temp-name.ts';
import { type PartStats, partPaths, writePartMarker } from '../schemas/part-io.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { type IngestPlan, RUN_MANIFEST_FILE, stageDir, writePlan } from '../schemas/run-layout.ts';
import { SUMMARY_FILE as PHRASES_SUMMARY_FILE } from '../stages/phrases/run-phrases.ts';
import { sha256 } from '../util/hash.ts';
import { type RunManifest, configFingerprint, packageVersions } from './run-manifest.ts';

export const CORPUS_FILE = 'corpus.json';

export type PlaceMode = 'link' | 'copy';

export interface CorpusPart { part: number; shard: number; shardPart: number; rows: number; from: string; stats: string }

export interface CorpusIndex {
  format: 'starword-corpus';
  version: 1;
  createdAt: string;
  fingerprint: string | null;
  sourceHash: string;
  shardCount: number;
  images: number;
  parts: number;
  shards: { index: number; dir: string; images: number; parts: number }[];
  /** per '<stage>/<kind>' (ingest/images included): every corpus part, in order */
  kinds: Record<string, CorpusPart[]>;
  rows: Record<string, number>;
  phrases: { from: string; files: number; bytes: number } | null;
  placed: { mode: PlaceMode; linked: number; copied: number; bytesCopied: number; bytesLinked: number };
}

/** One shard's input to the corpus: its folder, plan and manifest. */
export interface CorpusShard { dir: string; plan: IngestPlan; manifest: RunManifest | null }

/** A shard's part to be placed: corpus index `part` of `key` comes from `dir`'s part `shardPart`. */
export interface PlannedPart { key: string; part: number; shard: number; shardPart: number; dir: string; rows: number }

interface Placer { mode: PlaceMode; linked: number; copied: number; bytesCopied: number; bytesLinked: number }

const LINK_REFUSED = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EACCES']);

function place(src: string, dst: string, p: Placer): void {
  mkdirSync(dirname(dst), { recursive: true });
  const size = statSync(src).size;
  if (p.mode === 'link') {
    try {
      linkSync(src, dst);
      p.linked++;
      p.bytesLinked += size;
      return;
    } catch (err) {
      if (!LINK_REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  copyFileSync(src, dst);
  p.copied++;
  p.bytesCopied += size;
}

/** Every regular file under `dir`, relative, sorted; SQLite files (a cache is no part of the phrases), locks and temporaries left out. */
function filesUnder(dir: string, sub = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, sub)).sort()) {
    const rel = sub ? join(sub, name) : name;
    const st = statSync(join(dir, rel));
    if (st.isDirectory()) out.push(...filesUnder(dir, rel));
    // not a cache, a lock, another process's temporary file or a part moved aside as damaged
    else if (st.isFile() && !/\.sqlite(-wal|-shm|-journal)?$/.test(name) && !/\.tmp-/.test(name) && !/\.damaged-/.test(name)
      && !name.startsWith('.starword.lock')) out.push(rel);
  }
  return out;
}

function sumStages(shards: CorpusShard[]): RunManifest['stages'] {
  const out: RunManifest['stages'] = {};
  for (const s of shards) {
    for (const [name, rec] of Object.entries(s.manifest?.stages ?? {})) {
      const acc = (out[name] ??= { ...rec, seconds: 0, counts: {}, timings: {} });
      acc.seconds = (acc.seconds ?? 0) + (rec.seconds ?? 0);
      if (rec.status !== 'done') acc.status = rec.status;
      for (const [k, n] of Object.entries(rec.counts ?? {})) acc.counts[k] = (acc.counts[k] ?? 0) + n;
    }
  }
  return out;
}

/**
 * Builds the corpus in a temporary folder beside `corpusDir` and swaps it in when complete. A corpus
 * already there with the same parts (same shard parts, same markers) is kept as it is (with its phi/).
 */
export function buildCorpus(corpusDir: string, shards: CorpusShard[], planned: PlannedPart[], phrasesDir: string | null,
  mode: PlaceMode): { index: CorpusIndex; kept: boolean; keptEntries: string[] } {
  sweepDeadBuilds(corpusDir);
  const ordered = [...shards].sort((a, b) => a.plan.shard.index - b.plan.shard.index);
  const kinds: Record<string, CorpusPart[]> = {};
  const rows: Record<string, number> = {};
  for (const p of planned) {
    const [stage, kind] = p.key.split('/');
    const src = partPaths(join(p.dir, stage), kind, p.shardPart);
    (kinds[p.key] ??= []).push({
      part: p.part, shard: p.shard, shardPart: p.shardPart, rows: p.rows,
      from: relative(corpusDir, src.arrow), stats: sha256(readFileSync(src.stats)).slice(0, 16),
    });
    rows[p.key] = (rows[p.key] ?? 0) + p.rows;
  }
  const phrasesFiles = phrasesDir ? filesUnder(phrasesDir) : [];
  // the phrases' data, not the summary of the last `phrases` call: a rerun that reused every part (zero
  // requests, as a resubmitted recipe does) rewrites the summary and must not rebuild the corpus
  const phrasesId = phrasesFiles.filter((f) => f !== PHRASES_SUMMARY_FILE).map((f) => `${f}:${statSync(join(phrasesDir!, f)).size}:${statSync(join(phrasesDir!, f)).mtimeMs}`).join('\n');
  const previous = readCorpusIndex(corpusDir);
  const sameAs = (ix: CorpusIndex | null): boolean => ix !== null && JSON.stringify(ix.kinds) === JSON.stringify(kinds)
    && (ix.phrases?.from ?? null) === (phrasesDir ? relative(corpusDir, phrasesDir) : null)
    && (ix as CorpusIndex & { phrasesId?: string }).phrasesId === sha256(phrasesId);
  if (previous && sameAs(previous)) return { index: previous, kept: true, keptEntries: [] };

  const first = ordered[0];
  const images = ordered.reduce((n, s) => n + s.plan.images, 0);
  const parts = ordered.reduce((n, s) => n + s.plan.parts, 0);
  const tmp = tempPath(corpusDir);
  const placer: Placer = { mode, linked: 0, copied: 0, bytesCopied: 0, bytesLinked: 0 };
  try {
    for (const [key, list] of Object.entries(kinds)) {
      const [stage, kind] = key.split('/');
      for (const p of list) {
        const shardDir = ordered.find((s) => s.plan.shard.index === p.shard)!.dir;
        const src = partPaths(join(shardDir, stage), kind, p.shardPart);
        const dst = partPaths(join(tmp, stage), kind, p.part);
        place(src.arrow, dst.arrow, placer);
        // the shard's marker (checksums of the Arrow file included) with its corpus index, sealed anew
        const marker = JSON.parse(readFileSync(src.stats, 'utf8')) as PartStats;
        writePartMarker(join(tmp, stage), kind, p.part, { ...marker, part: p.part, corpusOf: { shard: p.shard, part: p.shardPart } });
      }
    }
    let phrasesBytes = 0;
    for (const f of phrasesFiles) {
      place(join(phrasesDir!, f), join(tmp, 'phrases', f), placer);
      phrasesBytes += statSync(join(phrasesDir!, f)).size;
    }
    const plan: IngestPlan = {
      ...first.plan, shard: { index: 0, count: 1 }, images, parts,
      planHash: sha256(ordered.map((s) => s.plan.planHash).join('\n')),
    };
    mkdirSync(stageDir(tmp, 'ingest'), { recursive: true });
    writePlan(tmp, plan);
    if (first.manifest) {
      const m: RunManifest = {
        ...first.manifest, shard: { index: 0, count: 1 }, updatedAt: new Date().toISOString(),
        packages: packageVersions(), stages: sumStages(ordered),
      };
      m.fingerprint = configFingerprint(m);
      writeFileAtomic(join(tmp, RUN_MANIFEST_FILE), `${JSON.stringify(m, null, 2)}\n`);
    }
    const index: CorpusIndex & { phrasesId: string } = {
      format: 'starword-corpus', version: 1, createdAt: new Date().toISOString(),
      fingerprint: first.manifest?.fingerprint ?? null, sourceHash: first.plan.sourceHash,
      shardCount: first.plan.shard.count, images, parts,
      shards: ordered.map((s) => ({ index: s.plan.shard.index, dir: relative(corpusDir, s.dir), images: s.plan.images, parts: s.plan.parts })),
      kinds, rows,
      phrases: phrasesDir ? { from: relative(corpusDir, phrasesDir), files: phrasesFiles.length, bytes: phrasesBytes } : null,
      placed: { ...placer }, phrasesId: sha256(phrasesId),
    };
    writeFileAtomic(join(tmp, CORPUS_FILE), `${JSON.stringify(index, null, 2)}\n`);
    const keptEntries = installCorpus(tmp, corpusDir, previous);
    return { index, kept: false, keptEntries };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The top-level entries of a corpus that merge made (and so may replace): run.json, corpus.json, the stages' folders. */
function mergeMade(index: CorpusIndex | null): Set<string> {
  const made = new Set<string>([CORPUS_FILE, RUN_MANIFEST_FILE, 'ingest', 'phrases']);
  for (const key of Object.keys(index?.kinds ?? {})) made.add(key.split('/')[0]);
  return made;
}

/**
 * Swaps the entries of the finished build `built` into `corpusDir`: the old corpus's corpus.json goes
 * first (a corpus caught half-swapped is never taken as complete), then every entry merge made (now or
 * in `previous`) is moved aside and the new ones moved in, corpus.json last. Entries merge did not make
 * stay. Returns their names.
 */
function installCorpus(built: string, corpusDir: string, previous: CorpusIndex | null): string[] {
  if (!existsSync(corpusDir)) {
    renameSync(built, corpusDir);
    return [];
  }
  const made = new Set(readdirSync(built));
  const replaced = new Set([...made, ...mergeMade(previous)]);
  const trash = tempPath(corpusDir);
  mkdirSync(trash);
  if (existsSync(join(corpusDir, CORPUS_FILE))) renameSync(join(corpusDir, CORPUS_FILE), join(trash, CORPUS_FILE));
  for (const name of readdirSync(corpusDir)) if (replaced.has(name)) renameSync(join(corpusDir, name), join(trash, name));
  for (const name of made) if (name !== CORPUS_FILE) renameSync(join(built, name), join(corpusDir, name));
  renameSync(join(built, CORPUS_FILE), join(corpusDir, CORPUS_FILE));
  rmSync(built, { recursive: true, force: true });
  rmSync(trash, { recursive: true, force: true });
  return readdirSync(corpusDir).filter((n) => !made.has(n) && !n.startsWith('.starword.lock')).sort();
}

/** Owner of a build folder of the merge before this version: `<corpus>.building-<hostname>-<pid>-<hex>[.old]`. */
function legacyBuildOwner(name: string): { host: string; pid: number } | null {
  const m = /\.building-(.+)-(\d+)-[0-9a-f]+(?:\.old)?$/.exec(name);
  return m ? { host: m[1].replace(/[^A-Za-z0-9_.]/g, '_'), pid: Number(m[2]) } : null;
}

/**
 * Removes the build and trash folders beside `corpusDir` that a killed merge left: those of a process
 * of this host that is gone. Another host's are left alone (its merge may be running; its next merge
 * removes them).
 */
export function sweepDeadBuilds(corpusDir: string): string[] {
  const parent = dirname(corpusDir);
  const prefix = `${basename(corpusDir)}.`;
  if (!existsSync(parent)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const owner = tempOwner(name) ?? legacyBuildOwner(name);
    if (!owner || owner.host !== hostTag() || owner.pid === process.pid || processAlive(owner.pid)) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

export function readCorpusIndex(corpusDir: string): CorpusIndex | null {
  const path = join(corpusDir, CORPUS_FILE);
  if (!existsSync(path)) return null;
  try {
    const ix = JSON.parse(readFileSync(path, 'utf8')) as CorpusIndex;
    return ix.format === 'starword-corpus' ? ix : null;
  } catch {
    return null;
  }
}
