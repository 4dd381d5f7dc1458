// A client's writes, one after the other, while something happens to the cluster (a leader
// killed, cut off): each write's outcome and time, bounded in count and time. Shared by the
// failover tests so they judge the same things the same way.
import { performance } from 'node:perf_hooks';
import { BatonError, type BatonClient } from '../../client/index.js';
import { sleep } from './wait.js';

/** A write that waited this long was waiting out a deadline, not failing over. */
export const HUNG_MS = 5_000;

export interface WriteOutcome {
  name: string;
  ms: number;
  /** Sent after the fault (the `fault` callback) happened. */
  sentAfterFault: boolean;
  error?: string;
}

export interface WriteLoopResult {
  outcomes: WriteOutcome[];
  acked: string[];
  /** performance.now() when the fault happened; 0 if the loop ended before it. */
  faultAt: number;
}

/**
 * CreateSecret `<prefix>-<i>` for i = 0…writes-1 (stopping after loopMs), the fault done before
 * write `faultAfter`. Each call has a 10 s deadline, the CLI's.
 */
export async function writeLoop(client: BatonClient, opts: { prefix: string; writes: number; loopMs: number; faultAfter: number; fault: () => Promise<void> | void }): Promise<WriteLoopResult> {
  const acked: string[] = [];
  const outcomes: WriteOutcome[] = [];
  let faultAt = 0;
  const start = performance.now();
  for (let i = 0; i < opts.writes && performance.now() - start < opts.loopMs; i++) {
    if (i === opts.faultAfter) {
      await opts.fault();
      faultAt = performance.now();
    }
    const name = `${opts.prefix}-${i}`;
    const sent = performance.now();
    try {
      await client.control.call('CreateSecret', { spec: { annotations: { name, labels: {} }, data: new TextEncoder().encode(name) } }, 10_000);
      acked.push(name);
      outcomes.push({ name, ms: performance.now() - sent, sentAfterFault: faultAt > 0 });
    } catch (err) {
      outcomes.push({ name, ms: performance.now() - sent, sentAfterFault: faultAt > 0, error: err instanceof BatonError ? `${err.code} ${err.message}` : String(err) });
      await sleep(50);
    }
  }
  return { outcomes, acked, faultAt };
}

/** One line on the writes after the fault, for t.diagnostic. */
export function describeOutcomes(r: WriteLoopResult): string {
  const firstAck = r.outcomes.find((o) => o.sentAfterFault && o.error === undefined);
  return `first write sent after the fault and acknowledged: ${firstAck?.name ?? 'none'}; ` + r.outcomes.filter((o) => o.sentAfterFault).slice(0, 12).map((o) => `${o.name} ${Math.round(o.ms)}ms${o.error ? ` (${o.error.slice(0, 60)})` : ''}`).join(', ');
}
