/**
 * How long to wait before retry `attempt` (0-based): the server's Retry-After when it sent one (it knows
 * best), else exponential backoff with "equal jitter" (half fixed, half random) so that concurrent
 * requests that failed together do not retry in lockstep.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Upper bound on a server-requested wait, so a silly Retry-After cannot stall a run for hours. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, maxRetryAfterMs: 300_000 };

export function backoffDelay(attempt: number, retryAfterMs: number | undefined, opts: BackoffOptions,
  random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) {
    const wait = Math.min(retryAfterMs, opts.maxRetryAfterMs);
    return wait + random() * Math.min(wait * 0.1, 1000);
  }
  const cap = Math.min(opts.maxMs, opts.baseMs * 2 ** attempt);
  return cap / 2 + random() * (cap / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
