/**
 * Step 2 of a sharded run: the concepts that the phrases job(s) make phrases for, read from every
 * shard's finished concepts parts. The union is sorted by name, so it is the same set in the same
 * order whatever the shard count, and `--concept-shard i/n` splits it by a stable hash of the name
 * (each phrases job with its own local cache; `starword cache merge` joins the caches afterwards).
 */
import { isPartDone } from '../schemas/part-io.ts';
import * as conceptsSchema from '../schemas/concepts.ts';
import { readPlan, stageDir } from '../schemas/run-layout.ts';
import { shardOf } from '../stages/ingest/shard.ts';
import { conceptsFromParts } from '../stages/phrases/concept-source.ts';
import { UserError } from '../util/errors.ts';
import { findRunDirs } from './merge-runs.ts';

export interface ConceptShard { index: number; count: number }

/** `i/n` → {index i, count n}, 0 ≤ i < n. */
export function parseConceptShard(text: string): ConceptShard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UserError(`--concept-shard must look like i/n (e.g. 0/4), got '${text}'`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1 || index >= count) throw new UserError(`--concept-shard ${text}: the index must be in 0..${Math.max(0, count - 1)}`);
  return { index, count };
}

/**
 * The sorted union of each image's top-`topK` concepts over the run folders under `paths` (a run, a
 * shard, or a folder of shard-*-of-* runs). Refuses a shard whose concepts stage has not finished, and
 * a sharded run with shards missing: phrases made now would lack their concepts.
 */
export function unionConcepts(paths: readonly string[], topK: number): { concepts: string[]; runs: number } {
  const names = new Set<string>();
  const seenShards = new Map<string, Set<number>>();
  let runs = 0;
  for (const path of paths) {
    for (const dir of findRunDirs(path)) {
      const plan = readPlan(dir);
      if (!plan) throw new UserError(`--concepts-from ${dir}: ingest has not finished there`);
      const conceptsDir = stageDir(dir, 'concepts');
      for (let p = 0; p < plan.parts; p++) {
        if (!isPartDone(conceptsDir, conceptsSchema.KIND, p)) throw new UserError(`--concepts-from ${dir}: concepts part ${p} is not finished (run step 1 there first)`);
      }
      if (plan.parts > 0) for (const c of conceptsFromParts(conceptsDir, topK)) names.add(c);
      const key = `${plan.sourceHash}/${plan.shard.count}`;
      const shards = seenShards.get(key) ?? new Set<number>();
      shards.add(plan.shard.index);
      seenShards.set(key, shards);
      runs++;
    }
  }
  for (const [key, shards] of seenShards) {
    const count = Number(key.split('/')[1]);
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !shards.has(i));
    if (missing.length) throw new UserError(`--concepts-from: shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing`);
  }
  return { concepts: [...names].sort(), runs };
}

/** The concepts of one phrases job: those whose name hashes to `shard`. */
export function conceptShardOf(concepts: readonly string[], shard: ConceptShard): string[] {
  return concepts.filter((c) => shardOf(c, shard.count) === shard.index);
}
