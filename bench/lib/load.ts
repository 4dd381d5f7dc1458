// A closed-loop load generator: N clients, each with one operation in flight at a time, for a
// warm-up and then a measured window. Throughput counts operations completed inside the
// window; latency is recorded for each of them (ms, from send to completion).
import { performance } from 'node:perf_hooks';
import { Samples, type Summary } from './stats.js';
import { cpuTimeMs, sleep } from './proc.js';

export interface LoadOptions {
  clients: number;
  warmupMs: number;
  durationMs: number;
  /** One operation of client `client`, its `seq`-th; true on success. A throw counts as a failure. */
  op: (client: number, seq: number) => Promise<boolean>;
  /** Pause of a client after a failed operation. */
  errorPauseMs?: number;
  /** Processes of the system under test: their CPU time over the measured window is reported. */
  serverPids?: () => number[];
}

export interface CpuUse {
  /** CPU time (user + system) of the server processes over the measured window, ms. */
  serverMs: number;
  /** Of this process (the load generator), ms. */
  clientMs: number;
  /** Server CPU ms per successful operation. */
  serverMsPerOp: number;
  /** Average number of cores the servers kept busy. */
  serverCores: number;
}

export interface LoadResult {
  clients: number;
  durationMs: number;
  /** Successful operations completed in the measured window. */
  ops: number;
  /** Failed operations completed in the measured window. */
  errors: number;
  opsPerSec: number;
  latencyMs: Summary;
  /** Up to 5 distinct error messages seen (whole run, warm-up included). */
  errorSamples: string[];
  /** Present when serverPids was given and /proc is readable. */
  cpu?: CpuUse;
}

/** One warm-up and one measured window. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const acc = new LoadAccumulator(opts.clients);
  await acc.runSlice(opts);
  return acc.result();
}

/**
 * Pools several measured windows of the same load (same client count) into one result, so
 * that two systems can take turns in short slices: a burst of other work on the machine then
 * lands on both instead of on whichever happened to run at that moment.
 */
export class LoadAccumulator {
  private readonly latencies = new Samples();
  private readonly nextSeq: number[];
  private errors = 0;
  private durationMs = 0;
  private serverCpuMs: number | undefined = 0;
  private clientCpuMs = 0;
  private readonly errorSamples = new Set<string>();

  constructor(readonly clients: number) {
    this.nextSeq = new Array<number>(clients).fill(0);
  }

  /** Warm up for opts.warmupMs, then measure for opts.durationMs; sequence numbers carry on from earlier slices. */
  async runSlice(opts: LoadOptions): Promise<void> {
    const start = performance.now();
    const measureFrom = start + opts.warmupMs;
    const end = measureFrom + opts.durationMs;
    const cpuMarks: { server: number | undefined; client: number }[] = [];
    const markCpu = (): void => {
      const u = process.cpuUsage();
      cpuMarks.push({ server: opts.serverPids ? cpuTimeMs(opts.serverPids()) : undefined, client: (u.user + u.system) / 1000 });
    };
    const markTimers = [setTimeout(markCpu, opts.warmupMs), setTimeout(markCpu, opts.warmupMs + opts.durationMs)];

    const client = async (c: number): Promise<void> => {
      for (;;) {
        const seq = this.nextSeq[c]!;
        this.nextSeq[c] = seq + 1;
        const sent = performance.now();
        if (sent >= end) return;
        let ok: boolean;
        try {
          ok = await opts.op(c, seq);
          if (!ok && this.errorSamples.size < 5) this.errorSamples.add('operation reported failure');
        } catch (err) {
          ok = false;
          if (this.errorSamples.size < 5) this.errorSamples.add(err instanceof Error ? err.message : String(err));
        }
        const done = performance.now();
        if (done >= measureFrom && done < end) {
          if (ok) this.latencies.push(done - sent);
          else this.errors++;
        }
        if (!ok) await sleep(opts.errorPauseMs ?? 10);
      }
    };
    await Promise.all(Array.from({ length: this.clients }, (_, c) => client(c)));
    // The last operations finish a little after `end`; take the end mark now if its timer has not fired.
    for (const t of markTimers) clearTimeout(t);
    while (cpuMarks.length < 2) markCpu();
    const [from, to] = cpuMarks;
    this.durationMs += opts.durationMs;
    this.clientCpuMs += to!.client - from!.client;
    if (this.serverCpuMs !== undefined && from?.server !== undefined && to?.server !== undefined) this.serverCpuMs += to.server - from.server;
    else this.serverCpuMs = undefined;
  }

  result(): LoadResult {
    const ops = this.latencies.length;
    const serverMs = this.serverCpuMs;
    return {
      clients: this.clients,
      durationMs: this.durationMs,
      ops,
      errors: this.errors,
      opsPerSec: this.durationMs > 0 ? ops / (this.durationMs / 1000) : Number.NaN,
      latencyMs: this.latencies.summary(),
      errorSamples: [...this.errorSamples],
      ...(serverMs !== undefined && this.durationMs > 0
        ? { cpu: { serverMs, clientMs: this.clientCpuMs, serverMsPerOp: ops ? serverMs / ops : Number.NaN, serverCores: serverMs / this.durationMs } }
        : {}),
    };
  }
}
