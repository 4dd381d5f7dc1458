// Child processes and scratch space for benchmarks: every process started and every temp dir
// made through here is registered, so an exit, Ctrl-C, SIGTERM or an uncaught error kills the
// processes (SIGKILL) and removes the dirs. Nothing a benchmark starts outlives it.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoggedProcess, type ProcessOptions } from '../../src/launcher/process.js';

export { freePort, freePorts } from '../../src/launcher/ports.js';
export { sleep, waitFor } from '../../test/lib/wait.js';

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let keepTemp = false;
let handlersInstalled = false;

/** SIGKILL every child in `children` now (synchronously) and empty the set. */
export function killAll(children: Set<ChildProcess>): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

/** Kill every registered child now (synchronously, SIGKILL) and remove the temp dirs. */
export function cleanupNow(): void {
  killAll(live);
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

/**
 * Runs a benchmark's `main`: a failure prints `bench:<name> failed: …` and sets exit code 1;
 * either way every process it started is killed and the process exits (requests still stuck on
 * a killed member must not keep it alive).
 */
export function runBenchmark(name: string, main: () => Promise<void>): void {
  main()
    .catch((err: unknown) => {
      process.stderr.write(`bench:${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      cleanupNow();
      process.exit();
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

export type SpawnOptions = ProcessOptions;

/** The launcher's child process, registered so that the benchmark's exit kills it. */
export class ManagedProcess extends LoggedProcess {
  constructor(opts: SpawnOptions) {
    installCleanupHandlers();
    super(opts);
    live.add(this.child);
    void this.exited.then(() => live.delete(this.child));
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
