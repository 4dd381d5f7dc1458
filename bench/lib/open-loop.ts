// An open-loop HTTP load generator: wrk2's model, after Gil Tene's "coordinated omission". The
// requests go out on a fixed schedule, request i at start + i / rate, whatever the earlier ones
// are doing, each on a connection of its own; a request's latency is taken from its *intended*
// send time to the last byte of its response. A stall anywhere (the path, the server, this
// process's own event loop) thus counts for every request it delays, not only for the one it
// hit, which a closed loop (wrk: a connection sends its next request when the last one is
// answered) leaves out. At a rate well under the server's saturation the server has no queue,
// so the latency is the path's and the server's service time, not queueing.
//
// Also recorded, to tell the parts apart: the connect time (the TCP handshake: done by the
// kernels on the path and the server's listening socket, with no user-space program scheduled
// on the far side, so it is the network path's own share, NAT rules included), the service
// time (from the moment the connect was actually started, without this process's scheduling
// lag) and the lag itself (how late each
// send left against its schedule: Node's timers have ~1 ms granularity, and a loaded machine
// adds more). A connection per request is what busybox httpd does anyway (it closes after each
// response), and it makes every request pay the path's connection set-up, as a task's
// short-lived calls do.
//
// It runs as a process of its own (`node open-loop.js --host H --port P --rate R --duration S`,
// printing one JSON object) so that the benchmark can start it in a task's network namespace
// (`nsenter -t PID -n`), as it does wrk; runOpenLoop() does that and reads the JSON.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Samples, summarize, type Summary } from './stats.js';

export interface OpenLoopOptions {
  host: string;
  port: number;
  /** Requests per second, on a fixed schedule. */
  rate: number;
  durationS: number;
  /**
   * Seconds of the same schedule sent first and not counted (0 by default): a fresh process's
   * first requests pay for compiling its own code, which no path should be charged with.
   */
  warmupS?: number;
  path?: string;
  /** A request not answered within this is counted as an error (timeout). */
  timeoutMs?: number;
  /** Run in the network namespace of this process (`nsenter -t PID -n`), e.g. a container's. */
  netnsPid?: number;
}

export interface OpenLoopResult {
  rate: number;
  durationS: number;
  /** Requests the schedule sent after the warm-up (rate × duration, all of them, answered or not). */
  sent: number;
  /** Answered with a 2xx. */
  ok: number;
  /** Not answered with a 2xx, per reason (connect, reset, timeout, status, ...). */
  errors: Record<string, number>;
  /** From the intended send time to the response's last byte, ms (answered requests only). */
  latencyMs: Summary;
  /** From the connect actually started to the response's last byte, ms. */
  serviceMs: Summary;
  /** From the connect started to the connection established (the handshake), ms. */
  connectMs: Summary;
  /** How late each send left against its schedule, ms. */
  lagMs: Summary;
  /** Every answered request's latency from its intended send time, ms, in send order. */
  samples: number[];
}

const DEFAULT_TIMEOUT_MS = 5_000;

/** Where the head of an HTTP response ends, and the body length it announces (undefined: read to the end). */
function parseHead(buf: Buffer): { status: number; bodyStart: number; length: number | undefined } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return { status, bodyStart: end + 4, length: cl ? Number(cl[1]) : undefined };
}

/**
 * One request on a connection of its own: resolves with the failure's reason, or undefined when
 * answered 2xx, and when it got that far the moment the connection was established.
 */
function oneRequest(host: string, port: number, request: Buffer, timeoutMs: number): Promise<{ why: string | undefined; connectedAt: number | undefined }> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let head: ReturnType<typeof parseHead>;
    let done = false;
    let connectedAt: number | undefined;
    const finish = (why: string | undefined): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ why, connectedAt });
    };
    const answered = (status: number): string | undefined => (status >= 200 && status < 300 ? undefined : 'status');
    const sock = connect({ host, port, noDelay: true });
    sock.setTimeout(timeoutMs, () => finish('timeout'));
    sock.on('connect', () => {
      connectedAt = performance.now();
      sock.write(request);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      head ??= parseHead(buf);
      if (head && head.length !== undefined && buf.length - head.bodyStart >= head.length) finish(answered(head.status));
    });
    sock.on('end', () => {
      if (head === undefined) return finish('closed');
      // Without a Content-Length the response ends with the connection; with one, it came short.
      finish(head.length === undefined ? answered(head.status) : 'short');
    });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(`${connectedAt !== undefined ? '' : 'connect '}${err.code ?? err.message}`));
    sock.on('close', () => finish('closed'));
  });
}

/** The schedule itself, in this process: what the command prints. */
export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const request = Buffer.from(`GET ${opts.path ?? '/'} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nConnection: close\r\n\r\n`);
  const warmup = Math.round(opts.rate * (opts.warmupS ?? 0));
  const measured = Math.max(1, Math.round(opts.rate * opts.durationS));
  const total = warmup + measured;
  const intervalMs = 1000 / opts.rate;
  const latency = new Samples();
  const service = new Samples();
  const connectTime = new Samples();
  const lag = new Samples();
  const samples: number[] = [];
  const errors: Record<string, number> = {};
  const pending: Promise<void>[] = [];
  const start = performance.now() + 20;
  const send = (intended: number, counted: boolean): void => {
    const began = performance.now();
    if (counted) lag.push(began - intended);
    pending.push(
      oneRequest(opts.host, opts.port, request, timeoutMs).then(({ why, connectedAt }) => {
        const end = performance.now();
        if (!counted) return;
        if (why !== undefined) {
          errors[why] = (errors[why] ?? 0) + 1;
          return;
        }
        latency.push(end - intended);
        service.push(end - began);
        if (connectedAt !== undefined) connectTime.push(connectedAt - began);
        samples.push(Math.round((end - intended) * 1000) / 1000);
      }),
    );
  };
  await new Promise<void>((resolve) => {
    let i = 0;
    const tick = (): void => {
      // Every send whose time has come, late ones included: the schedule never slips.
      const now = performance.now();
      for (; i < total && start + i * intervalMs <= now; i++) send(start + i * intervalMs, i >= warmup);
      if (i >= total) return resolve();
      setTimeout(tick, Math.max(0, start + i * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  await Promise.all(pending);
  return {
    rate: opts.rate,
    durationS: opts.durationS,
    sent: measured,
    ok: latency.length,
    errors,
    latencyMs: latency.summary(),
    serviceMs: service.summary(),
    connectMs: connectTime.summary(),
    lagMs: lag.summary(),
    samples,
  };
}

/** The pooled summary of several runs' samples (rounds of one system). */
export function pooled(runs: readonly OpenLoopResult[]): Summary {
  return summarize(runs.flatMap((r) => r.samples));
}

/** Runs the schedule in a process of its own (in the namespace of `netnsPid` when given) and reads its result. */
export function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const script = fileURLToPath(import.meta.url);
  const args = [script, '--host', opts.host, '--port', String(opts.port), '--rate', String(opts.rate), '--duration', String(opts.durationS), '--warmup', String(opts.warmupS ?? 0), '--path', opts.path ?? '/', '--timeout-ms', String(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)];
  const [command, argv] = opts.netnsPid === undefined ? [process.execPath, args] : ['nsenter', ['-t', String(opts.netnsPid), '-n', process.execPath, ...args]];
  const capMs = (opts.durationS + (opts.warmupS ?? 0) + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000 + 30) * 1000;
  return new Promise((resolve, reject) => {
    execFile(command, argv, { encoding: 'utf8', timeout: capMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`open-loop load failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as OpenLoopResult);
      } catch {
        reject(new Error(`cannot read the open-loop result:\n${stdout.slice(0, 500)}`));
      }
    });
  });
}

function parseFlags() {
  return parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string', default: '0' },
      path: { type: 'string', default: '/' },
      'timeout-ms': { type: 'string', default: String(DEFAULT_TIMEOUT_MS) },
    },
  });
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags();
  } catch (err) {
    process.stderr.write(`open-loop: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
    process.exit(2);
  }
  const { values } = parsed;
  const problems: string[] = [];
  const positive = (name: string, text: string | undefined): number => {
    const v = Number(text);
    if (text === undefined || !Number.isFinite(v) || v <= 0) problems.push(`--${name}: a positive number is needed${text === undefined ? '' : `, not ${text}`}`);
    return v;
  };
  if (!values.host) problems.push('--host: needed');
  const port = positive('port', values.port);
  const rate = positive('rate', values.rate);
  const durationS = positive('duration', values.duration);
  const timeoutMs = positive('timeout-ms', values['timeout-ms']);
  const warmupS = Number(values.warmup);
  if (!Number.isFinite(warmupS) || warmupS < 0) problems.push(`--warmup: a number of seconds >= 0 is needed, not ${values.warmup}`);
  if (problems.length > 0) {
    process.stderr.write(`open-loop: ${problems.join('; ')}\n`);
    process.exit(2);
  }
  const result = await openLoop({ host: values.host!, port, rate, durationS, warmupS, path: values.path ?? '/', timeoutMs });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`open-loop: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
