/**
 * The servers' documented layouts as zod schemas, checked on every file before it is written:
 * - CIRR (Test-split_server.md): a dict pairid → list of image names, plus "version": "rc2" and
 *   "metric": "recall" | "recall_subset"; top 50 (recall) or 3 (recall_subset) per query; every pairid
 *   of the split present (the server's sanity checks);
 * - CIRCO (README, evaluation.py): a dict query id → the top 50 image ids; every test query present,
 *   the ids consecutive from 0 (evaluation.py asserts it); values are integers as decimal strings.
 */
import { z } from 'zod';

const names = (max: number) => z.array(z.string().min(1)).max(max).refine((a) => new Set(a).size === a.length, 'a name is listed twice');

export function cirrSubmissionSchema(metric: 'recall' | 'recall_subset', pairIds: readonly string[]) {
  const max = metric === 'recall' ? 50 : 3;
  const want = new Set(pairIds);
  return z.record(z.string(), z.unknown()).superRefine((obj, ctx) => {
    if (obj.version !== 'rc2') ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'version must be "rc2"' });
    if (obj.metric !== metric) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `metric must be "${metric}"` });
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'version' || k === 'metric') continue;
      if (!/^\d+$/.test(k)) { ctx.addIssue({ code: z.ZodIssueCode.custom, message: `key ${k} is not a pairid` }); continue; }
      if (!want.has(k)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `pairid ${k} is not in the split` });
      const p = names(max).safeParse(v);
      if (!p.success) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `pairid ${k}: ${p.error.issues[0].message} (at most ${max} distinct names)` });
    }
    for (const id of want) if (!(id in obj)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `pairid ${id} is missing` });
  });
}

export function circoSubmissionSchema(queryIds: readonly string[]) {
  const want = new Set(queryIds);
  return z.record(z.string(), z.unknown()).superRefine((obj, ctx) => {
    const keys = Object.keys(obj);
    const sorted = keys.map(Number).sort((a, b) => a - b);
    if (!keys.every((k) => /^\d+$/.test(k)) || sorted.some((v, i) => v !== i)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'query ids must be 0, 1, …, n − 1 (CIRCO evaluation.py)' });
    }
    for (const id of want) if (!(id in obj)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `query ${id} is missing` });
    for (const [k, v] of Object.entries(obj)) {
      if (!want.has(k)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `query ${k} is not in the split` });
      const p = names(50).refine((a) => a.every((s) => /^\d+$/.test(s)), 'image ids must be COCO integers').safeParse(v);
      if (!p.success) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `query ${k}: ${p.error.issues[0].message}` });
    }
  });
}

/** The first problem of `value` against `schema`, or null. */
export function firstProblem(schema: z.ZodTypeAny, value: unknown): string | null {
  const r = schema.safeParse(value);
  return r.success ? null : r.error.issues[0].message;
}
