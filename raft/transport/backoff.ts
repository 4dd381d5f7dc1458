// Reconnect delays: exponential so a dead peer costs little, jittered so the peers of a restarted
// node do not all reconnect in the same instant, capped so a healed peer is found again quickly.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Source of randomness in [0, 1); injectable so tests can pin the delays. */
  random?: () => number;
}

export class Backoff {
  private nextMs: number;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    this.nextMs = options.initialMs;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt, in [d/2, d) for the current step d. */
  next(): number {
    const d = this.nextMs;
    this.nextMs = Math.min(this.options.maxMs, d * 2);
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.nextMs = this.options.initialMs;
  }
}
