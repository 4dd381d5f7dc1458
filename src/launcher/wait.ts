// Polling until something holds, for the local launcher and the demo (and, re-exported from
// test/lib/wait.ts, for tests and benchmarks): one argument order and one timeout message
// everywhere, naming what was awaited and the last error the check threw.

export interface WaitOptions {
  /** How long to keep polling; 20 s unless said. */
  timeoutMs?: number;
  /** The pause between two checks; 200 ms unless said. */
  intervalMs?: number;
}

/** What a check returns once it holds. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Call `check` until it returns a truthy value, and return that value. A check that throws
 * counts as "not yet" (a service still starting refuses connections); after `timeoutMs` this
 * throws `timed out after N ms waiting for <what>`, with the last error when there was one.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, options: WaitOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
