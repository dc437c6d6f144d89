/**
 * A circuit breaker for a server that is not there: after `threshold` attempts in a row whose connection
 * was refused outright (nothing listens, the name does not resolve, no route), with no answer in between,
 * it opens and stays open for the rest of the run. Every request then fails at once instead of spending
 * its retries: a down server costs a handful of attempts, not retries × items. The items fail as usual
 * (recorded, retried by the next run); an answer of any kind before the threshold closes it again.
 */
export class CircuitBreaker {
  private inARow = 0;
  private openedWith: string | null = null;

  constructor(readonly threshold: number) {}

  get open(): boolean { return this.openedWith !== null; }
  /** Refused connections in a row (the count that opened it, once open). */
  get refusedInARow(): number { return this.inARow; }
  /** Why it opened: the last refusal's message. */
  get reason(): string | null { return this.openedWith; }

  /** An attempt got an answer (any HTTP status): the server is there. */
  answered(): void {
    if (!this.open) this.inARow = 0;
  }

  /** An attempt's connection was refused outright; true when this refusal opened the breaker. */
  refused(message: string): boolean {
    if (this.open) return false;
    this.inARow++;
    if (this.inARow < this.threshold) return false;
    this.openedWith = message;
    return true;
  }
}
