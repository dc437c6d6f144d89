/**
 * Every LLM request goes through here: p-queue for concurrency and requests per minute, a token budget for
 * tokens per minute, and our own retry loop (the openai client's retries are off, so each attempt is seen,
 * counted and rate-limited). Each attempt is its own queue task: a backoff wait does not hold a slot.
 */
import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay, sleep } from './backoff.ts';
import { type FaultKind, classifyError, retryCause } from './request-errors.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { TokenBudget } from './token-budget.ts';
import { ConceptFailedError, RunFatalError } from './failures.ts';

export interface SchedulerOptions {
  concurrency: number;
  /** Requests per minute (p-queue intervalCap over a 60 s interval). */
  rpm?: number;
  /** Tokens per minute. */
  tpm?: number;
  /** Retries after the first attempt. */
  retries: number;
  backoff?: Partial<BackoffOptions>;
  signal?: AbortSignal;
  /** One-line notices (retries, the breaker opening), already scrubbed. */
  log?: (line: string) => void;
  /**
   * Attempts refused outright in a row, with no answer between, after which the server counts as down and
   * every request fails at once (see circuit-breaker.ts). Default: max(8, 2 × concurrency).
   */
  breakerThreshold?: number;
  /** Retries are noted one line per this many ms at most, the others summarised (default 10 s). */
  retryNoticeMs?: number;
  /** Told of each retry by cause ('429', 'timeout', …) so that a progress reporter summarises them; then no retry line at all. */
  onRetry?: (cause: string) => void;
}

export interface SchedulerStats {
  /** Attempts started (each is one HTTP request). */
  attempts: number;
  retries: number;
  faults: Partial<Record<FaultKind, number>>;
  /** Requests failed without an attempt because the breaker was open. */
  shortCircuited: number;
  /** Set when the breaker opened: the server refused this many connections in a row. */
  breakerOpenedAfter: number | null;
}

export interface AttemptResult<T> { value: T; tokens?: number }

export class RequestScheduler {
  private readonly queue: PQueue;
  private readonly budget?: TokenBudget;
  private readonly backoff: BackoffOptions;
  private readonly abort = new AbortController();
  private readonly breaker: CircuitBreaker;
  /** retries not printed since the last retry line, by fault kind (summarised in the next one) */
  private unprinted: { count: number; kinds: Partial<Record<FaultKind, number>>; lastLineAt: number } = { count: 0, kinds: {}, lastLineAt: -Infinity };
  readonly stats: SchedulerStats = { attempts: 0, retries: 0, faults: {}, shortCircuited: 0, breakerOpenedAfter: null };

  constructor(private readonly opts: SchedulerOptions) {
    this.queue = new PQueue({
      concurrency: Math.max(1, opts.concurrency),
      ...(opts.rpm ? { intervalCap: opts.rpm, interval: 60_000 } : {}),
    });
    if (opts.tpm) this.budget = new TokenBudget(opts.tpm);
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.breaker = new CircuitBreaker(opts.breakerThreshold ?? Math.max(8, 2 * Math.max(1, opts.concurrency)));
    // Every queued attempt and backoff wait listens on this one signal: thousands is normal here.
    setMaxListeners(0, this.abort.signal);
    opts.signal?.addEventListener('abort', () => this.abort.abort(opts.signal?.reason), { once: true });
  }

  /** Aborted when the caller's signal aborts or a run-fatal error is met. */
  get signal(): AbortSignal { return this.abort.signal; }

  /**
   * Runs `attempt` until it succeeds, retrying what is retryable. `label` names the request in notices;
   * `estimateTokens` is reserved from the TPM budget before each attempt. Throws ConceptFailedError when
   * the retries are spent or the error is not retryable, RunFatalError on a run-fatal error.
   */
  async run<T>(label: string, estimateTokens: number, attempt: (signal: AbortSignal) => Promise<AttemptResult<T>>): Promise<T> {
    for (let i = 0; ; i++) {
      const signal = this.abort.signal;
      try {
        const result = await this.queue.add(async () => {
          if (this.breaker.open) throw new BreakerOpen();
          const reservation = this.budget ? await this.budget.reserve(estimateTokens, signal) : undefined;
          signal.throwIfAborted();
          this.stats.attempts++;
          // A failed attempt keeps its estimate reserved: it may still have cost tokens (the safe side).
          const out = await attempt(signal);
          this.breaker.answered();
          if (reservation && out.tokens !== undefined) this.budget!.settle(reservation, out.tokens);
          return out;
        }, { signal });
        return result.value;
      } catch (err) {
        if (signal.aborted) throw new RunFatalError(`aborted: ${String(signal.reason ?? 'signal')}`);
        if (err instanceof BreakerOpen) {
          this.stats.shortCircuited++;
          throw new ConceptFailedError(this.downMessage());
        }
        const fault = classifyError(err);
        this.stats.faults[fault.kind] = (this.stats.faults[fault.kind] ?? 0) + 1;
        if (fault.refused) {
          if (this.breaker.refused(fault.message)) {
            this.stats.breakerOpenedAfter = this.breaker.refusedInARow;
            this.opts.log?.(`LLM server down: ${this.downMessage()}; the remaining requests fail without being sent`);
          }
          if (this.breaker.open) throw new ConceptFailedError(this.downMessage());
        } else if (fault.kind !== 'connection' && fault.kind !== 'timeout') {
          this.breaker.answered(); // an HTTP status or a body came back: the server is there
        }
        if (fault.kind === 'fatal') {
          const fatal = new RunFatalError(fault.message);
          this.abort.abort(fatal.message);
          throw fatal;
        }
        if (!fault.retryable || i >= this.opts.retries) {
          throw new ConceptFailedError(i > 0 ? `${fault.message} (after ${i + 1} attempts)` : fault.message);
        }
        const delay = backoffDelay(i, fault.retryAfterMs, this.backoff);
        this.stats.retries++;
        if (this.opts.onRetry) this.opts.onRetry(retryCause(fault));
        else this.noteRetry(`${label}: ${fault.message}; retry ${i + 1}/${this.opts.retries} in ${Math.round(delay)} ms`, fault.kind);
        try { await sleep(delay, signal); } catch { throw new RunFatalError(`aborted: ${String(signal.reason ?? 'signal')}`); }
      }
    }
  }

  /**
   * One retry line per `retryNoticeMs` at most: a failing server makes every request retry, and a line
   * each would flood the terminal. The retries in between are counted into the next line.
   */
  private noteRetry(line: string, kind: FaultKind): void {
    const now = Date.now();
    const u = this.unprinted;
    if (now - u.lastLineAt < (this.opts.retryNoticeMs ?? 10_000)) {
      u.count++;
      u.kinds[kind] = (u.kinds[kind] ?? 0) + 1;
      return;
    }
    const since = u.count > 0 ? ` (and ${u.count} more retries since the last line: ${Object.entries(u.kinds).map(([k, n]) => `${k} ${n}`).join(', ')})` : '';
    this.opts.log?.(`${line}${since}`);
    this.unprinted = { count: 0, kinds: {}, lastLineAt: now };
  }

  private downMessage(): string {
    return `${this.breaker.reason} — refused ${this.breaker.refusedInARow} connections in a row, not retried`;
  }

  /** Drops queued attempts and aborts running ones. */
  stop(reason = 'stopped'): void {
    // Abort first: queued attempts were added with the signal, so they reject instead of hanging.
    if (!this.abort.signal.aborted) this.abort.abort(reason);
    this.queue.clear();
  }
}

/** Thrown inside a queued attempt when the breaker opened while it waited: no request is sent. */
class BreakerOpen extends Error {}
