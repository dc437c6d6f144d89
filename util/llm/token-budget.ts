/**
 * A tokens-per-minute budget: each request reserves an estimate (max_tokens × samples + prompt) before it
 * is sent and the reservation is corrected by the usage the server reports. Fixed one-minute windows:
 * crude, but servers' own TPM limits are enforced about this coarsely too.
 */
import { sleep } from './backoff.ts';

/** A rough token count for budgeting before the call (about 4 characters a token). */
export function estimateTokens(text: string): number { return Math.ceil(text.length / 4) + 1; }

export interface TokenReservation { readonly windowStart: number; readonly tokens: number }

export class TokenBudget {
  private windowStart: number;
  private used = 0;

  constructor(readonly tokensPerMinute: number, private readonly now: () => number = Date.now,
    private readonly windowMs = 60_000) {
    this.windowStart = now();
  }

  private roll(): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.used = 0;
    }
  }

  /** Milliseconds to wait before `tokens` fit (0 when they fit now). A request bigger than a whole minute's budget goes alone into an empty window. */
  waitFor(tokens: number): number {
    this.roll();
    if (this.used === 0 || this.used + tokens <= this.tokensPerMinute) return 0;
    return this.windowStart + this.windowMs - this.now();
  }

  /** Waits until `tokens` fit, then reserves them. */
  async reserve(tokens: number, signal?: AbortSignal): Promise<TokenReservation> {
    for (let wait = this.waitFor(tokens); wait > 0; wait = this.waitFor(tokens)) await sleep(wait, signal);
    this.used += tokens;
    return { windowStart: this.windowStart, tokens };
  }

  /** Replaces a reservation's estimate with what was actually used (only while its window is current). */
  settle(reservation: TokenReservation, actualTokens: number): void {
    this.roll();
    if (reservation.windowStart !== this.windowStart) return;
    this.used = Math.max(0, this.used - reservation.tokens + actualTokens);
  }

  get usedInWindow(): number { this.roll(); return this.used; }
}
