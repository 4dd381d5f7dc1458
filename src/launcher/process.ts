// A child process with its stderr in a log file: started, awaited until it says it is ready,
// signalled, stopped (SIGTERM, then SIGKILL after a grace period). The local launcher's daemons
// are these; benchmarks use the same class for the other programs they run (etcd, haproxy, …).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ProcessOptions {
  /** Label used in error messages. */
  name: string;
  command: string;
  args: string[];
  /** stderr is appended to this file (and stdout too when no `readyLine` is asked for). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve `ready` on the first stdout line matching this; without it, ready at spawn. */
  readyLine?: RegExp;
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LoggedProcess {
  readonly child: ChildProcess;
  /** The first stdout line matching `readyLine` (empty string when none was asked for). */
  readonly ready: Promise<string>;
  readonly exited: Promise<ExitInfo>;
  /** Everything it printed on stdout so far (when `readyLine` pipes it here). */
  stdout = '';
  private exitInfo: ExitInfo | undefined;

  constructor(private readonly opts: ProcessOptions) {
    const logFd = openSync(opts.logFile, 'a');
    const wantStdout = opts.readyLine !== undefined;
    try {
      this.child = spawn(opts.command, opts.args, {
        stdio: ['ignore', wantStdout ? 'pipe' : logFd, logFd],
        env: opts.env ?? process.env,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
      });
    } finally {
      closeSync(logFd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    this.ready = new Promise<string>((resolve, reject) => {
      this.child.once('error', reject);
      if (!wantStdout) {
        this.child.once('spawn', () => resolve(''));
        return;
      }
      this.child.stdout!.on('data', (b: Buffer) => (this.stdout += b.toString()));
      const timeoutMs = opts.readyTimeoutMs ?? 30_000;
      const timer = setTimeout(() => reject(new Error(`${opts.name}: not ready after ${timeoutMs} ms${this.logTail()}`)), timeoutMs);
      let seen = false;
      createInterface({ input: this.child.stdout! }).on('line', (line) => {
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

  /** Send `sig` (SIGKILL unless said) and resolve once it has exited. */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.signal(sig);
    await this.exited;
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
