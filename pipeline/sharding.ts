/**
 * This worker's shard: `--shard-index i --shard-count N`, else from the scheduler's environment:
 *  - Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX (0-based); the count is the Job's `completions`,
 *    which the pod does not see, so it comes from --shard-count;
 *  - Slurm job arrays set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; the index is counted from
 *    SLURM_ARRAY_TASK_MIN so `--array=1-8` works as well as `--array=0-7`.
 * Neither: one shard. Every failure is a one-line UserError.
 */
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';

export interface Shard { index: number; count: number }

export interface ShardFlags {
  shardIndex?: string | number;
  shardCount?: string | number;
}

function parseCount(value: string | number, what: string): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) throw new UserError(`${what} must be a non-negative integer, got '${value}'`);
  return Number(text);
}

export function resolveShard(flags: ShardFlags = {}, env: NodeJS.ProcessEnv = process.env): Shard {
  let index: number | undefined;
  let count: number | undefined;
  let indexFrom = '--shard-index';
  let countFrom = '--shard-count';
  if (flags.shardCount !== undefined) count = parseCount(flags.shardCount, '--shard-count');
  if (flags.shardIndex !== undefined) {
    index = parseCount(flags.shardIndex, '--shard-index');
  } else if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    index = parseCount(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX');
    indexFrom = 'JOB_COMPLETION_INDEX';
    if (count === undefined) {
      throw new UserError('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): pass --shard-count equal to the Job\'s completions');
    }
  } else if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_ID !== '') {
    const id = parseCount(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID');
    const min = env.SLURM_ARRAY_TASK_MIN ? parseCount(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN') : 0;
    if (id < min) throw new UserError(`SLURM_ARRAY_TASK_ID ${id} is below SLURM_ARRAY_TASK_MIN ${min}`);
    index = id - min;
    indexFrom = 'SLURM_ARRAY_TASK_ID';
    if (count === undefined) {
      if (!env.SLURM_ARRAY_TASK_COUNT) throw new UserError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shard-count');
      count = parseCount(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
      countFrom = 'SLURM_ARRAY_TASK_COUNT';
    }
  }
  if (index === undefined) {
    if (count !== undefined && count !== 1) throw new UserError(`--shard-count ${count} needs --shard-index (or JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID)`);
    return { index: 0, count: 1 };
  }
  if (count === undefined) throw new UserError(`${indexFrom} needs --shard-count`);
  if (count < 1) throw new UserError(`${countFrom} must be at least 1, got ${count}`);
  if (index >= count) throw new UserError(`${indexFrom} ${index} is out of range for ${count} shards (0..${count - 1})`);
  return { index, count };
}

/** The folder a shard writes into: `<out>/shard-IIIII-of-NNNNN` when sharded, else `<out>` itself. */
export function shardRunDir(out: string, shard: Shard): string {
  if (shard.count === 1) return out;
  const pad = (n: number): string => String(n).padStart(5, '0');
  return join(out, `shard-${pad(shard.index)}-of-${pad(shard.count)}`);
}

export const SHARD_DIR_RE = /^shard-(\d+)-of-(\d+)$/;

/** Where `starword merge <out>` puts the one corpus of a sharded run, unless told otherwise. */
export const CORPUS_DIR = 'corpus';
