/**
 * Range rules for command options, as zod schemas, and the one check that turns the first broken rule
 * into a one-line UserError naming the flag (`--lr must be > 0, got -5`). Each stage declares its schema
 * beside its options (pipeline/stage-runners/<stage>.ts) so `run` and the stage's own command check the
 * same rules, all of them before any work starts.
 */
import { z } from 'zod';
import { UserError } from '../util/errors.ts';

const num = (test: (v: number) => boolean, message: string) => z.number().refine((v) => Number.isFinite(v) && test(v), { message });

export const rule = {
  positiveInt: () => num((v) => Number.isInteger(v) && v > 0, 'must be a positive integer'),
  nonNegativeInt: () => num((v) => Number.isInteger(v) && v >= 0, 'must be an integer ≥ 0'),
  int: () => num(Number.isInteger, 'must be an integer'),
  positive: () => num((v) => v > 0, 'must be > 0'),
  nonNegative: () => num((v) => v >= 0, 'must be ≥ 0'),
  /** [0, 1): a share held out, a dropout, an EMA decay */
  fraction: () => num((v) => v >= 0 && v < 1, 'must be in [0, 1)'),
  range: (lo: number, hi: number) => num((v) => v >= lo && v <= hi, `must be in [${lo}, ${hi}]`),
  oneOf: <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { message: `must be one of ${values.join(', ')}` }),
};

/** A rule between two options, reported on `key` (its message says the whole thing). */
export type CrossCheck<T> = (o: T) => { key: keyof T & string; message: string } | null;

function shown(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
}

/**
 * Checks `values` against `schema`, then the cross-option rules; throws a UserError on the first
 * failure. `flag` gives an option key's flag as the user typed it ('lr' → '--lr', or '--phi-lr').
 */
export function checkOptions<T extends object>(schema: z.ZodType, values: T, flag: (key: string) => string,
  cross: CrossCheck<T>[] = []): void {
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? '');
    const value = (values as Record<string, unknown>)[key];
    throw new UserError(`${flag(key)} ${issue.message}, got ${value === undefined ? 'nothing' : shown(value)}`);
  }
  for (const check of cross) {
    const bad = check(values);
    if (bad) throw new UserError(`${flag(bad.key)} ${bad.message}`);
  }
}

/** 'weightDecay' → '--weight-decay' (with an optional prefix such as 'phi-'). */
export function kebabFlag(prefix = ''): (key: string) => string {
  return (key) => `--${prefix}${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * A stage command on an existing run folder draws from the concepts its concepts stage kept: its top-k may
 * not exceed the run's `--top-k` (read from run.json when the run was made by `starword run`).
 */
export function checkTopKAgainstRun(runConfig: Record<string, unknown> | undefined, topK: number, flag: string): void {
  const kept = (runConfig?.concepts as { topK?: unknown } | undefined)?.topK;
  if (typeof kept === 'number' && topK > kept) {
    throw new UserError(`${flag} ${topK} is more than the ${kept} concepts per image this run kept (its --top-k)`);
  }
}
