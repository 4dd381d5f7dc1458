// Child processes and scratch space for benchmarks: every process started and every temp dir
// made through here is registered, so an exit, Ctrl-C, SIGTERM or an uncaught error kills the
// processes (SIGKILL) and removes the dirs. Nothing a benchmark starts outlives it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let keepTemp = false;
let handlersInstalled = false;

/** Kill every registered child now (synchronously, SIGKILL) and remove the temp dirs. */
export function cleanupNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  if (!keepTemp) {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    tempDirs.clear();
  }
}

/** Install exit / signal / uncaught-error handlers once; idempotent. */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping every process the benchmark started\n`);
      cleanupNow();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`uncaught: ${err.stack ?? String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
}

/** Keep temp dirs at exit (for debugging); their paths are printed by the caller. */
export function keepTempDirs(keep: boolean): void {
  keepTemp = keep;
}

/** A fresh directory under os.tmpdir(), removed at exit. */
export function makeTempDir(prefix: string): string {
  installCleanupHandlers();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  if (!keepTemp) rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A TCP port on `host` that was free a moment ago (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}

export interface SpawnOptions {
  /** Label used in error messages. */
  name: string;
  command: string;
  args: string[];
  /** stderr (and stdout lines) are appended to this file. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve `ready` on the first stdout line matching this; without it, ready at spawn. */
  readyLine?: RegExp;
  readyTimeoutMs?: number;
}

/** A child process registered for cleanup, with its log kept in a file. */
export class ManagedProcess {
  readonly child: ChildProcess;
  /** The first stdout line matching `readyLine` (empty string when none was asked for). */
  readonly ready: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(private readonly opts: SpawnOptions) {
    installCleanupHandlers();
    const logFd = openSync(opts.logFile, 'a');
    const wantStdout = opts.readyLine !== undefined;
    this.child = spawn(opts.command, opts.args, {
      stdio: ['ignore', wantStdout ? 'pipe' : logFd, logFd],
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    closeSync(logFd);
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exitInfo = { code, signal };
        resolve({ code, signal });
      });
    });
    this.ready = new Promise<string>((resolve, reject) => {
      this.child.once('error', reject);
      if (!wantStdout) {
        this.child.once('spawn', () => resolve(''));
        return;
      }
      const timeoutMs = opts.readyTimeoutMs ?? 30_000;
      const timer = setTimeout(() => reject(new Error(`${opts.name}: not ready after ${timeoutMs} ms${this.logTail()}`)), timeoutMs);
      const lines = createInterface({ input: this.child.stdout! });
      let seen = false;
      lines.on('line', (line) => {
        if (!seen && opts.readyLine!.test(line)) {
          seen = true;
          clearTimeout(timer);
          resolve(line);
        }
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        if (!seen) reject(new Error(`${opts.name} exited (code ${code}, signal ${signal}) before it was ready${this.logTail()}`));
      });
    });
    // A ready promise nobody awaits must not become an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Send a signal; returns false when the process had already exited. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    return this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 3_000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last lines of the log file, for error messages. */
  logTail(lines = 15): string {
    try {
      const text = readFileSync(this.opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return text ? `\n--- last lines of ${this.opts.logFile} ---\n${text}` : '';
    } catch {
      return '';
    }
  }
}

/** Run a command to completion (inheriting stdio); returns its exit status. */
export function runSync(command: string, args: string[]): number {
  const r = spawnSync(command, args, { stdio: 'inherit' });
  return r.status ?? 1;
}

/** Whether `command` is found on PATH. */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` every `intervalMs` until it returns true; throws after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * CPU time (user + system, ms) used so far by each process in `pids`, read from /proc (Linux).
 * A pid that is gone or unreadable counts 0; undefined when /proc is not there.
 */
export function cpuTimeMs(pids: readonly number[]): number | undefined {
  const ticksPerSec = 100; // USER_HZ: 100 on every Linux architecture that Node supports
  let total = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      if (pid === process.pid) return undefined;
      continue;
    }
    // Fields after the command (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) * (1000 / ticksPerSec);
  }
  return total;
}
