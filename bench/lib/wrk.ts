// wrk (Debian's HTTP load generator) for the mesh benchmark: install it when missing, run it
// with --latency and read its summary.
import { execFile } from 'node:child_process';
import { onPath, runSync } from './proc.js';

/** Make sure each command is installed, apt-get installing the given Debian packages when not. */
export function ensureDebianTools(tools: readonly { command: string; pkg: string }[]): void {
  const missing = tools.filter((t) => !onPath(t.command));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (process.getuid?.() !== 0) throw new Error(`${missing.map((t) => t.command).join(', ')} not installed and this is not root: run \`sudo apt-get install -y ${pkgs.join(' ')}\``);
  process.stderr.write(`installing Debian's ${pkgs.join(' ')}\n`);
  const install = (): number => runSync('apt-get', ['install', '-y', '-q', ...pkgs]);
  if (install() !== 0) {
    runSync('apt-get', ['update', '-q']);
    if (install() !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed`);
  }
  for (const t of missing) if (!onPath(t.command)) throw new Error(`${t.command} still not on PATH after apt-get install`);
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** Extra request headers, e.g. "Connection: close". */
  headers?: string[];
  /**
   * Run wrk in the network namespace of this process (`nsenter -t PID -n`), e.g. a container's
   * main process: the host's wrk, with the container's addresses, routes and resolver path.
   */
  netnsPid?: number;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  /** Latency percentiles in ms from wrk --latency. */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  /** connect + read + write + timeout socket errors, and non-2xx/3xx responses. */
  errors: number;
  raw: string;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  switch (unit) {
    case 'us':
      return v / 1000;
    case 'ms':
      return v;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      return Number.NaN;
  }
}

/** Parses wrk's text output (with --latency). */
export function parseWrk(out: string): WrkResult {
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (sock) errors += sock.slice(1).reduce((s, v) => s + Number(v), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errors += Number(non2xx[1]);
  return {
    requestsPerSec: rps ? Number(rps[1]) : Number.NaN,
    requests: total ? Number(total[1]) : Number.NaN,
    p50: pct('50'),
    p75: pct('75'),
    p90: pct('90'),
    p99: pct('99'),
    errors,
    raw: out,
  };
}

export function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${opts.durationS}s`, '--latency'];
  for (const h of opts.headers ?? []) args.push('-H', h);
  args.push(opts.url);
  return new Promise((resolve, reject) => {
    const [command, argv] = opts.netnsPid === undefined ? ['wrk', args] : ['nsenter', ['-t', String(opts.netnsPid), '-n', 'wrk', ...args]];
    execFile(command, argv, { encoding: 'utf8', timeout: (opts.durationS + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const r = parseWrk(stdout);
      if (!Number.isFinite(r.requestsPerSec)) return reject(new Error(`cannot read wrk output:\n${stdout}`));
      resolve(r);
    });
  });
}
