// Bounds how many tasks prepare or start at once, so hundreds of assignments neither swamp the
// engine nor queue behind one slow image pull (each task waits only for a free slot).
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
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
