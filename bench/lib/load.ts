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

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const measureFrom = start + opts.warmupMs;
  const end = measureFrom + opts.durationMs;
  const latencies = new Samples();
  let errors = 0;
  const errorSamples = new Set<string>();
  const cpuMarks: { server: number | undefined; client: number }[] = [];
  const markCpu = (): void => {
    const u = process.cpuUsage();
    cpuMarks.push({ server: opts.serverPids ? cpuTimeMs(opts.serverPids()) : undefined, client: (u.user + u.system) / 1000 });
  };
  const markTimers = [setTimeout(markCpu, opts.warmupMs), setTimeout(markCpu, opts.warmupMs + opts.durationMs)];

  const client = async (c: number): Promise<void> => {
    for (let seq = 0; ; seq++) {
      const sent = performance.now();
      if (sent >= end) return;
      let ok: boolean;
      try {
        ok = await opts.op(c, seq);
        if (!ok && errorSamples.size < 5) errorSamples.add('operation reported failure');
      } catch (err) {
        ok = false;
        if (errorSamples.size < 5) errorSamples.add(err instanceof Error ? err.message : String(err));
      }
      const done = performance.now();
      if (done >= measureFrom && done < end) {
        if (ok) latencies.push(done - sent);
        else errors++;
      }
      if (!ok) await sleep(opts.errorPauseMs ?? 10);
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  // The last operations finish a little after `end`; take the end mark now if its timer has not fired.
  for (const t of markTimers) clearTimeout(t);
  while (cpuMarks.length < 2) markCpu();
  let cpu: CpuUse | undefined;
  const [from, to] = cpuMarks;
  if (from?.server !== undefined && to?.server !== undefined) {
    const serverMs = to.server - from.server;
    cpu = {
      serverMs,
      clientMs: to.client - from.client,
      serverMsPerOp: latencies.length ? serverMs / latencies.length : Number.NaN,
      serverCores: serverMs / opts.durationMs,
    };
  }
  return {
    clients: opts.clients,
    durationMs: opts.durationMs,
    ops: latencies.length,
    errors,
    opsPerSec: latencies.length / (opts.durationMs / 1000),
    latencyMs: latencies.summary(),
    errorSamples: [...errorSamples],
    ...(cpu ? { cpu } : {}),
  };
}
