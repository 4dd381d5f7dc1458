// An executor that times its calls (the agent's "executor call latency" metric). Only the calls
// that do a bounded piece of work are timed; wait() and logs() last as long as the task or the
// reader. A proxy, so whatever else an executor offers (now or later) passes through unchanged.
import type { Executor } from './types.js';

/** The executor's name for the call, its duration in seconds, and whether it succeeded. */
export type ExecutorCallObserver = (call: string, seconds: number, ok: boolean) => void;

const TIMED = new Set<string | symbol>(['prepare', 'start', 'inspect', 'shutdown', 'remove', 'list', 'checkImage']);

export function timedExecutor<E extends Executor>(inner: E, observe: ExecutorCallObserver): E {
  return new Proxy(inner, {
    get(target, key, receiver): unknown {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (!TIMED.has(key)) return method.bind(target);
      return async (...args: unknown[]): Promise<unknown> => {
        const started = performance.now();
        try {
          const result = await method.apply(target, args);
          observe(String(key), (performance.now() - started) / 1000, true);
          return result;
        } catch (err) {
          observe(String(key), (performance.now() - started) / 1000, false);
          throw err;
        }
      };
    },
  });
}
