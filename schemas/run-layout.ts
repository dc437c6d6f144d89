/**
 * Where things live in a run folder, shared by the stages (which may not import each other) and the
 * pipeline:
 *   <run>/run.json                   the run manifest (pipeline/run-manifest.ts)
 *   <run>/ingest/plan.json           the ingest plan, written after its images parts (its done marker)
 *   <run>/ingest/images-NNNNN.arrow  the planned parts
 *   <run>/embed/features-NNNNN.arrow + errors-NNNNN.arrow, same index as the images part
 *   <run>/<stage>/<kind>-NNNNN.arrow  likewise for later stages (concepts, phrases, oti/tokens, ...)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.ts';

export const RUN_MANIFEST_FILE = 'run.json';
export const PLAN_FILE = 'plan.json';

export type StageName = 'ingest' | 'embed' | 'concepts' | 'phrases' | 'oti' | 'phi';

export function stageDir(runDir: string, stage: StageName): string {
  return join(runDir, stage);
}

/** The ingest plan of one shard: which parts exist and what they were made from. */
export interface IngestPlan {
  format: 'starword-plan';
  version: 1;
  /** 'dir' or 'manifest', and its absolute path */
  source: { type: 'dir' | 'manifest'; path: string };
  /** images in the whole source, before sharding, and a hash of their ids (not paths: mounts differ between machines) */
  sourceImages: number;
  sourceHash: string;
  shard: { index: number; count: number };
  partSize: number;
  /** images in this shard */
  images: number;
  parts: number;
  /** hash of this shard's ids and paths in order */
  planHash: string;
  /** files of a source folder left out because they are not images (whole source, before sharding) */
  skippedFiles?: { count: number; byExtension: Record<string, number> };
  /** symbolic links of a source folder left out (not followed: they may point outside it) */
  skippedLinks?: number;
}

export function planPath(runDir: string): string {
  return join(stageDir(runDir, 'ingest'), PLAN_FILE);
}

/** The plan of a run folder, or null when ingest has not finished there. */
export function readPlan(runDir: string): IngestPlan | null {
  const path = planPath(runDir);
  if (!existsSync(path)) return null;
  let plan: IngestPlan;
  try {
    plan = JSON.parse(readFileSync(path, 'utf8')) as IngestPlan;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (plan.format !== 'starword-plan') throw new Error(`${path}: not a starword ingest plan`);
  return plan;
}

export function writePlan(runDir: string, plan: IngestPlan): void {
  writeFileAtomic(planPath(runDir), `${JSON.stringify(plan, null, 2)}\n`);
}
