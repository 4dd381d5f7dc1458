// The process runtime's health checker: what Docker's daemon does for a container
// (moby daemon/health.go), done by the agent for a plain process. A probe runs every interval
// (the first one interval after the start), in the task's working directory and environment:
// ["CMD", prog, args...] is spawned as is, ["CMD-SHELL", cmd] through /bin/sh -c. Exit 0 is
// healthy; anything else, a probe that outlives the timeout or cannot be spawned, is a failure.
// While the task is still "starting" (no probe ever passed) failures inside the start period
// do not count; `retries` consecutive counted failures make it unhealthy; a success resets the
// streak and makes it healthy.
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { withDefaults } from './health-spec.js';
import { errorMessage, type HealthCheckSpec, type TaskHealth } from './types.js';

export interface ProcessHealthOptions {
  check: HealthCheckSpec;
  cwd: string;
  env: Record<string, string>;
  /** When the task started (ms since the epoch): the start period counts from here. */
  startedAt: number;
  /** The health to begin with: 'starting' for a fresh task, the last known one after an agent restart. */
  initial: TaskHealth;
  onHealth: (health: TaskHealth) => void;
  logger: Logger;
  now?: () => number;
}

export interface ProbeResult {
  exitCode: number;
  /** The probe's combined output, at most 4 KiB (Docker keeps as much). */
  output: string;
}

const MAX_OUTPUT = 4096;
// A probe killed at its timeout gets this much longer to be reaped before we stop waiting.
const KILL_WAIT_MS = 1_000;

/** Runs one probe; never rejects (a probe that cannot run is a failed probe, exit code -1). */
export function runProbe(test: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<ProbeResult> {
  const [kind, ...rest] = test;
  const [program, args] = kind === 'CMD-SHELL' ? ['/bin/sh', ['-c', rest[0] ?? '']] : [rest[0] ?? '', rest.slice(1)];
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const keep = (chunk: Buffer): void => {
      if (output.length < MAX_OUTPUT) output = (output + chunk.toString('utf8')).slice(0, MAX_OUTPUT);
    };
    // detached: its own process group, so a timed-out shell is killed with what it started.
    const child = spawn(program, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => done({ exitCode: -1, output: `cannot run health check: ${errorMessage(err)}` }));
    // Docker reports a timed-out probe as exit -1 with this message.
    const timedOut = `Health check exceeded timeout (${timeoutMs}ms)`;
    let killed = false;
    child.once('close', (code, signal) => {
      if (killed) done({ exitCode: -1, output: timedOut });
      else done({ exitCode: code ?? -1, output: signal ? `${output}(killed by ${signal})` : output });
    });
    timer = setTimeout(() => {
      killed = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone: its close event settles the probe.
        }
      }
      // A grandchild that escaped the group may hold the pipes open: do not wait for it.
      setTimeout(() => done({ exitCode: -1, output: timedOut }), KILL_WAIT_MS).unref();
    }, timeoutMs);
  });
}

export class ProcessHealthChecker {
  private health: TaskHealth;
  private failingStreak = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly check: HealthCheckSpec;
  private readonly now: () => number;

  constructor(private readonly opts: ProcessHealthOptions) {
    this.check = withDefaults(opts.check);
    this.now = opts.now ?? Date.now;
    this.health = opts.initial === 'none' ? 'starting' : opts.initial;
  }

  /** Reports the current health, then probes every interval until stop(). */
  start(): void {
    this.opts.onHealth(this.health);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probe(), this.check.intervalMs);
  }

  private async probe(): Promise<void> {
    const began = this.now();
    const result = await runProbe(this.check.test, this.opts.cwd, this.opts.env, this.check.timeoutMs);
    if (this.stopped) return;
    this.record(result, began);
    this.schedule();
  }

  private record(result: ProbeResult, began: number): void {
    const before = this.health;
    if (result.exitCode === 0) {
      this.failingStreak = 0;
      this.health = 'healthy';
    } else {
      const inStartPeriod = this.health === 'starting' && began - this.opts.startedAt < this.check.startPeriodMs;
      if (!inStartPeriod) {
        this.failingStreak++;
        if (this.failingStreak >= this.check.retries) this.health = 'unhealthy';
      }
      this.opts.logger.debug(
        { exitCode: result.exitCode, output: result.output.trim(), failingStreak: this.failingStreak, inStartPeriod },
        'health check failed',
      );
    }
    if (this.health !== before) {
      this.opts.logger.info({ health: this.health, output: result.output.trim() || undefined }, 'task health changed');
      this.opts.onHealth(this.health);
    }
  }
}
