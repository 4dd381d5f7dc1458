// Bounds how many tasks prepare or start at once, so hundreds of assignments neither swamp the
// engine nor queue behind one slow image pull (each task waits only for a free slot).
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /**
   * `first`: go ahead of everything waiting. Starts use it, so a task created a moment ago starts
   * before the next container is even created (as `docker run` would), instead of all creates
   * of a big assignment going first.
   */
  async run<T>(fn: () => Promise<T>, first = false): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => (first ? this.waiting.unshift(resolve) : this.waiting.push(resolve)));
    else this.active++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next waiter, so `active` never dips in between.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
