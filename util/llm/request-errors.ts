/**
 * What to do about a failed LLM request: retry (and after how long) or give up on the concept or the run.
 * Retryable: 429, 408, 409, 5xx, timeouts, connection errors, malformed answers. Fatal for the whole run:
 * 401/403/404 (a bad key or an unknown model fails every concept alike). Other 4xx fail the concept.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { errorMessage } from '../errors.ts';
import { scrub } from './secrets.ts';

export type FaultKind = 'rate-limit' | 'server' | 'timeout' | 'connection' | 'malformed' | 'client' | 'fatal' | 'aborted';

export interface RequestFault {
  kind: FaultKind;
  retryable: boolean;
  /** The server's Retry-After / retry-after-ms, in ms, when it sent one. */
  retryAfterMs?: number;
  /** One line, secrets scrubbed. */
  message: string;
  /** The connection was refused outright (nothing listens, the host does not resolve, no route): the server is not there. */
  refused?: boolean;
}

/** Socket errors that say the server is not there at all, as opposed to one that broke mid-request. */
const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** The first system error code (ECONNREFUSED, …) in `err`'s chain of causes (fetch nests them, sometimes in an AggregateError). */
export function socketErrorCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 6) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
  for (const inner of (err as { errors?: unknown[] }).errors ?? []) {
    const c = socketErrorCode(inner, depth + 1);
    if (c) return c;
  }
  return socketErrorCode((err as { cause?: unknown }).cause, depth + 1);
}

/** A retry's cause in a summary: the HTTP status when there is one ('429', '503'), else the kind ('timeout'). */
export function retryCause(fault: RequestFault): string {
  return /^HTTP (\d{3})\b/.exec(fault.message)?.[1] ?? fault.kind;
}

/** The answer arrived but is not what was asked for (bad JSON, wrong shape, no choices). */
export class MalformedAnswerError extends Error {
  constructor(message: string) { super(message); this.name = 'MalformedAnswerError'; }
}

/** Parses `retry-after-ms` (float ms) or `Retry-After` (seconds, or an HTTP date) into ms; undefined if absent/bad. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const ra = headers.get('retry-after');
  if (ra === null || ra.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Number(ra) * 1000;
  const at = Date.parse(ra);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export function classifyError(err: unknown): RequestFault {
  const message = scrub(errorMessage(err));
  if (err instanceof APIUserAbortError) return { kind: 'aborted', retryable: false, message };
  // The timeout error is a connection error subclass: test it first.
  if (err instanceof APIConnectionTimeoutError) return { kind: 'timeout', retryable: true, message: 'request timed out' };
  if (err instanceof APIConnectionError) {
    const code = socketErrorCode(err);
    const text = scrub(errorMessage((err as Error).cause ?? err));
    return {
      kind: 'connection', retryable: true, refused: code !== undefined && REFUSED_CODES.has(code),
      message: `connection error: ${text}${code && !text.includes(code) ? ` (${code})` : ''}`,
    };
  }
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    const retryAfterMs = parseRetryAfter(err.headers);
    const line = message.startsWith(String(status)) ? `HTTP ${message}` : `HTTP ${status}: ${message}`;
    if (status === 429) return { kind: 'rate-limit', retryable: true, retryAfterMs, message: line };
    if (status >= 500 || status === 408 || status === 409) return { kind: 'server', retryable: true, retryAfterMs, message: line };
    if (status === 401 || status === 403 || status === 404) return { kind: 'fatal', retryable: false, message: line };
    return { kind: 'client', retryable: false, message: line };
  }
  // A 200 whose body is not JSON makes the SDK throw a SyntaxError; our own validation throws MalformedAnswerError.
  if (err instanceof MalformedAnswerError || err instanceof SyntaxError) {
    return { kind: 'malformed', retryable: true, message: `malformed answer: ${message}` };
  }
  // Anything else thrown by fetch (socket closed mid-body, …) behaves like a connection error.
  const code = socketErrorCode(err);
  return { kind: 'connection', retryable: true, refused: code !== undefined && REFUSED_CODES.has(code), message };
}
