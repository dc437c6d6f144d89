/**
 * What the captioning baseline and CIReVL need per query, paid for once: the reference image's caption
 * (one request per distinct image content) and, for CIReVL, the target description recomposed from the
 * caption and the relative caption (one request per distinct caption + instruction). Everything goes
 * through the durable answer cache: a committed answer is never asked again, a rerun makes zero requests.
 *
 * A failed request (retries spent, a malformed answer, a non-retryable 4xx) is recorded in the cache
 * and its queries get the reason; the run goes on. A run-fatal error (bad key, unknown model) throws
 * RunFatalError: no later request could succeed either, so that step stops and the report says why in
 * `fatal` (captions already paid for are kept: the captioning baseline can still run when only the
 * recomposer refused).
 */
import { ConceptFailedError, RunFatalError } from '../../util/llm/failures.ts';
import { scrub } from '../../util/llm/secrets.ts';
import { errorMessage } from '../../util/errors.ts';
import { AnswerCache } from './answer-cache.ts';
import { imageDataUrl, imageSha256 } from './image-data.ts';
import { type ChatTarget, parseEditedDescription, requestCaption, requestRecomposition } from './requests.ts';

export interface DescribeQuery {
  id: string;
  /** the reference image file; null when the index does not know where it is */
  imagePath: string | null;
  /** the relative caption CIReVL sends (FashionIQ: the two captions joined with "and") */
  instruction: string;
}

export interface Asker {
  target: ChatTarget;
  /** the prompt text (part of the cache key) */
  prompt: string;
}

export interface DescribeOptions {
  cache: AnswerCache;
  captioner: Asker;
  /** absent: captions only (the captioning baseline) */
  recomposer?: Asker;
  /** items in flight (their requests share the schedulers' queues and limits) */
  workers?: number;
  log?: (line: string) => void;
}

export interface QueryDescription {
  caption?: string;
  /** CIReVL's target description (the instruction itself when the answer had none: `fallback`) */
  description?: string;
  fallback?: boolean;
  /** why the query has no caption (or, with a recomposer, no description): one line, scrubbed */
  reason?: string;
}

export interface StepCounts { cached: number; requested: number; failed: number }

export interface DescribeReport {
  queries: Map<string, QueryDescription>;
  captions: StepCounts;
  recompositions: StepCounts & { fallbacks: number };
  /** a step that stopped on a run-fatal error (bad key, unknown model), with the server's one line */
  fatal?: { step: 'caption' | 'recomposition'; message: string };
}

/** Runs a step; a RunFatalError becomes the step's `fatal` line, anything else propagates. */
async function guarded(step: 'caption' | 'recomposition', run: () => Promise<void>): Promise<DescribeReport['fatal']> {
  try { await run(); return undefined; } catch (err) {
    if (err instanceof RunFatalError) return { step, message: scrub(err.message) };
    throw err;
  }
}

function identityOfCaption(a: Asker, sha: string): Record<string, unknown> {
  return { image_sha256: sha, model: a.target.model, prompt: a.prompt, max_tokens: a.target.maxTokens, temperature: a.target.temperature };
}

function identityOfRecomposition(a: Asker, caption: string, instruction: string): Record<string, unknown> {
  return { caption, instruction, model: a.target.model, prompt: a.prompt, max_tokens: a.target.maxTokens, temperature: a.target.temperature };
}

/** Runs `fn` over `items`, `workers` at a time; the first non-item error stops new work and is rethrown. */
async function pool<T>(items: readonly T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let fatal: unknown;
  const worker = async (): Promise<void> => {
    while (fatal === undefined && next < items.length) {
      const item = items[next++];
      try { await fn(item); } catch (err) { fatal ??= err; }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, worker));
  if (fatal !== undefined) throw fatal;
}

/**
 * One cached request: the committed answer, or a fresh one committed now, or the failure's reason.
 * Only ConceptFailedError is an item failure; anything else (RunFatalError, a bug) propagates.
 */
async function cachedAnswer(cache: AnswerCache, kind: 'caption' | 'recomposition', identity: Record<string, unknown>,
  counts: StepCounts, ask: () => Promise<{ text: string; usage: { prompt: number; completion: number } }>): Promise<{ text?: string; reason?: string }> {
  const key = AnswerCache.key(identity);
  const hit = cache.get(kind, key);
  if (hit !== null) { counts.cached++; return { text: hit }; }
  try {
    const answer = await ask();
    cache.commit(kind, key, identity, answer.text, answer.usage);
    counts.requested++;
    return { text: answer.text };
  } catch (err) {
    if (!(err instanceof ConceptFailedError)) throw err;
    const reason = scrub(err.message);
    cache.recordFailure(kind, key, identity, reason);
    counts.failed++;
    return { reason };
  }
}

export async function describeQueries(queries: readonly DescribeQuery[], opts: DescribeOptions): Promise<DescribeReport> {
  const workers = opts.workers ?? 8;
  const out = new Map<string, QueryDescription>(queries.map((q) => [q.id, {}]));
  const captions: StepCounts = { cached: 0, requested: 0, failed: 0 };
  const recompositions = { cached: 0, requested: 0, failed: 0, fallbacks: 0 };

  // 1. every reference image's content hash (the caption key); an unreadable file fails its queries only
  const shaOfPath = new Map<string, string>();
  const pathReason = new Map<string, string>();
  for (const path of new Set(queries.map((q) => q.imagePath).filter((p): p is string => p !== null))) {
    try { shaOfPath.set(path, await imageSha256(path)); } catch (err) { pathReason.set(path, scrub(errorMessage(err))); }
  }

  // 2. one caption per distinct image content
  const pathOfSha = new Map<string, string>();
  for (const [path, sha] of shaOfPath) if (!pathOfSha.has(sha)) pathOfSha.set(sha, path);
  const captionOf = new Map<string, { text?: string; reason?: string }>();
  const captionFatal = await guarded('caption', () => pool([...pathOfSha.keys()], workers, async (sha) => {
    const path = pathOfSha.get(sha) as string;
    const identity = identityOfCaption(opts.captioner, sha);
    captionOf.set(sha, await cachedAnswer(opts.cache, 'caption', identity, captions, async () => {
      let url: string;
      try { url = await imageDataUrl(path); } catch (err) { throw new ConceptFailedError(errorMessage(err)); }
      return requestCaption(opts.captioner.target, `caption ${path}`, opts.captioner.prompt, url);
    }));
  }));
  if (captionFatal) return { queries: out, captions, recompositions, fatal: captionFatal };
  for (const q of queries) {
    const d = out.get(q.id) as QueryDescription;
    if (q.imagePath === null) { d.reason = 'the reference image file is unknown (not in the index\'s ingest parts)'; continue; }
    const sha = shaOfPath.get(q.imagePath);
    if (sha === undefined) { d.reason = `unreadable reference image: ${pathReason.get(q.imagePath)}`; continue; }
    const c = captionOf.get(sha);
    if (c?.text !== undefined) d.caption = c.text;
    else d.reason = `caption failed: ${c?.reason ?? 'not asked'}`;
  }
  opts.log?.(`captions: ${captions.requested} requested, ${captions.cached} cached, ${captions.failed} failed`);
  const recomposer = opts.recomposer;
  if (!recomposer) return { queries: out, captions, recompositions };

  // 3. one recomposition per distinct (caption, instruction)
  const pending = new Map<string, { caption: string; instruction: string; ids: string[] }>();
  for (const q of queries) {
    const d = out.get(q.id) as QueryDescription;
    if (d.caption === undefined) continue;
    const k = JSON.stringify([d.caption, q.instruction]);
    const p = pending.get(k);
    if (p) p.ids.push(q.id); else pending.set(k, { caption: d.caption, instruction: q.instruction, ids: [q.id] });
  }
  const fatal = await guarded('recomposition', () => pool([...pending.values()], workers, async (p) => {
    const identity = identityOfRecomposition(recomposer, p.caption, p.instruction);
    const got = await cachedAnswer(opts.cache, 'recomposition', identity, recompositions,
      () => requestRecomposition(recomposer.target, `recompose ${JSON.stringify(p.instruction)}`, recomposer.prompt, p.caption, p.instruction));
    for (const id of p.ids) {
      const d = out.get(id) as QueryDescription;
      if (got.text === undefined) { d.reason = `recomposition failed: ${got.reason}`; continue; }
      const description = parseEditedDescription(got.text);
      // CIReVL's rule: no "Edited Description:" line → retrieve with the instruction
      d.description = description ?? p.instruction;
      if (description === null) { d.fallback = true; recompositions.fallbacks++; }
    }
  }));
  opts.log?.(`recompositions: ${recompositions.requested} requested, ${recompositions.cached} cached, ${recompositions.failed} failed, ${recompositions.fallbacks} without an "Edited Description:" line (the relative caption used)`);
  return { queries: out, captions, recompositions, ...(fatal ? { fatal } : {}) };
}
