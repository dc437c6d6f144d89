/** Progress lines for long runs: at most one every `everyMs`, plus the last. */
export class Progress {
  private done_ = 0;
  private readonly counts: Record<string, number> = {};
  private last = 0;

  constructor(private readonly log: (line: string) => void, private readonly total: number,
    private readonly label: string, private readonly everyMs = 2000) {}

  tick(status: string, extra = ''): void {
    this.done_++;
    this.counts[status] = (this.counts[status] ?? 0) + 1;
    const now = Date.now();
    if (now - this.last >= this.everyMs) { this.last = now; this.print(extra); }
  }

  done(extra = ''): void { this.print(extra); }

  private print(extra: string): void {
    const parts = Object.entries(this.counts).map(([k, v]) => `${v} ${k}`).join(', ');
    this.log(`${this.label}: ${this.done_}/${this.total} concepts (${parts || 'none yet'})${extra ? `, ${extra}` : ''}`);
  }
}
