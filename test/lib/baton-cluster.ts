// Real baton daemons on 127.0.0.1 for integration tests: `baton init` / `baton join` as child
// processes with their own data dirs, and the `baton` CLI run against them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const BATON = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/baton.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion. */
export function baton(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BATON, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Daemon {
  name: string;
  dataDir: string;
  addr: string;
  proc: ChildProcess | undefined;
  /** The command line that (re)starts it: init or join with the same data dir. */
  args: string[];
  stdout: string;
  logFile: string;
}

export interface ClusterOptions {
  /**
   * Each node on its own loopback address, 127.0.0.1, 127.0.0.2, … in the order they start,
   * for --listen-addr and --data-path-addr: nodes then share nothing but the machine, and each
   * one's routing mesh can bind the same published ports (docs/routing-mesh.md).
   */
  addressPerNode?: boolean;
}

export class BatonCluster {
  readonly root = mkdtempSync(join(tmpdir(), 'baton-it-'));
  readonly daemons = new Map<string, Daemon>();
  workerToken = '';
  managerToken = '';
  /** The IDs of the clusters `init` created: containers carry them as the `baton.cluster` label. */
  readonly clusterIds = new Set<string>();

  constructor(
    private readonly extra: string[] = [],
    private readonly options: ClusterOptions = {},
  ) {}

  /** A cluster that is torn down (processes killed, data removed) when the test ends. */
  static forTest(t: { after(fn: () => Promise<void>): void }, extra: string[] = [], options: ClusterOptions = {}): BatonCluster {
    const c = new BatonCluster(extra, options);
    t.after(async () => {
      await c.stopAll();
      c.cleanup();
    });
    return c;
  }

  dataDir(name: string): string {
    return join(this.root, name);
  }

  /** The host the next node listens on, with the flags that put it there. */
  private async nextAddress(): Promise<{ addr: string; flags: string[] }> {
    if (!this.options.addressPerNode) {
      const addr = `127.0.0.1:${await freePort()}`;
      return { addr, flags: ['--listen-addr', addr] };
    }
    const host = `127.0.0.${this.daemons.size + 1}`;
    const addr = `${host}:${await freePort(host)}`;
    return { addr, flags: ['--listen-addr', addr, '--data-path-addr', host] };
  }

  /** The IP a node listens on (and its mesh answers on). */
  host(name: string): string {
    return this.get(name).addr.replace(/:\d+$/, '');
  }

  async init(name: string, extra: string[] = []): Promise<Daemon> {
    const { addr, flags } = await this.nextAddress();
    const d = await this.start(name, addr, ['init', '--data-dir', this.dataDir(name), ...flags, ...this.extra, ...extra]);
    this.workerToken = /add a worker[\s\S]*?--token (\S+)/.exec(d.stdout)?.[1] ?? '';
    this.managerToken = /add a manager[\s\S]*?--token (\S+)/.exec(d.stdout)?.[1] ?? '';
    const identity = join(this.dataDir(name), 'node.json');
    if (existsSync(identity)) this.clusterIds.add((JSON.parse(readFileSync(identity, 'utf8')) as { clusterId: string }).clusterId);
    return d;
  }

  async join(name: string, role: 'worker' | 'manager', via: string): Promise<Daemon> {
    const { addr, flags } = await this.nextAddress();
    const token = role === 'worker' ? this.workerToken : this.managerToken;
    return this.start(name, addr, ['join', '--token', token, this.get(via).addr, '--data-dir', this.dataDir(name), ...flags, ...this.extra]);
  }

  get(name: string): Daemon {
    const d = this.daemons.get(name);
    if (!d) throw new Error(`no daemon ${name}`);
    return d;
  }

  /** Start a daemon and wait for its first stdout line (joined/initialized/resumed). */
  async start(name: string, addr: string, args: string[]): Promise<Daemon> {
    const logFile = join(this.root, `${name}.log`);
    const proc = spawn(process.execPath, [BATON, ...args, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stderr.pipe(createWriteStream(logFile, { flags: 'a' }));
    const d: Daemon = { name, dataDir: this.dataDir(name), addr, proc, args, stdout: '', logFile };
    this.daemons.set(name, d);
    proc.stdout.on('data', (b: Buffer) => (d.stdout += b.toString()));
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${name} did not start in 30 s; log in ${logFile}`)), 30_000);
      const check = (): void => {
        if (/initialized|joined|resumed/.test(d.stdout) && d.stdout.includes('\n')) {
          clearTimeout(timer);
          // init prints its join commands after the first line.
          setTimeout(ok, /initialized/.test(d.stdout) ? 50 : 0);
        }
      };
      proc.stdout.on('data', check);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`${name} exited with ${code}: ${d.stdout}; log in ${logFile}`));
      });
    });
    proc.removeAllListeners('exit');
    proc.once('exit', () => {
      if (d.proc === proc) d.proc = undefined;
    });
    return d;
  }

  async restart(name: string): Promise<Daemon> {
    const d = this.get(name);
    return this.start(name, d.addr, d.args);
  }

  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const d = this.get(name);
    const proc = d.proc;
    if (!proc) return;
    const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
    proc.kill(signal);
    await exited;
    d.proc = undefined;
  }

  /** Run the CLI against a node's local socket. */
  cli(name: string, args: string[]): CliResult {
    // Right after the command words: at the end it could land in a service's own command line.
    return baton([...args.slice(0, 2), '--data-dir', this.dataDir(name), ...args.slice(2)]);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.daemons.keys()].map((n) => this.kill(n, 'SIGKILL')));
  }

  /**
   * Remove everything, including process-runtime tasks: they outlive a SIGKILLed daemon on
   * purpose (a restarted one adopts them), so a test that does not restart it must end them.
   */
  cleanup(): void {
    for (const d of this.daemons.values()) {
      // The agent's memory-backed secret and config files (worker/agent/task-files.ts) are
      // outside the data dir; a killed daemon leaves its tasks' there.
      const nodeId = nodeIdOf(d);
      if (nodeId) rmSync(`/dev/shm/baton-${nodeId}`, { recursive: true, force: true });
    }
    for (const name of this.daemons.keys()) {
      const dir = join(this.dataDir(name), 'tasks', 'process');
      if (!existsSync(dir)) continue;
      for (const task of readdirSync(dir)) {
        try {
          const { pid } = JSON.parse(readFileSync(join(dir, task, 'task.json'), 'utf8')) as { pid?: number };
          if (pid) process.kill(-pid, 'SIGKILL');
        } catch {
          // Already gone, or never started.
        }
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface NodeRow {
  id: string;
  role: string;
  status: string;
  availability: string;
  managerStatus: string;
  addr: string;
  labels: Record<string, string>;
  version: number;
}

/** `baton node ls --format json` on `name`, reduced to what tests compare. */
export function nodes(cluster: BatonCluster, name: string): NodeRow[] {
  const r = cluster.cli(name, ['node', 'ls', '--format', 'json']);
  if (r.code !== 0) throw new Error(`node ls on ${name} failed: ${r.stderr}`);
  const list = JSON.parse(r.stdout) as {
    meta: { id: string; version: number };
    role: string;
    spec: { availability: string; annotations: { labels: Record<string, string> } | null };
    status: { state: string; addr: string };
    managerStatus: { leader: boolean; reachability: string } | null;
  }[];
  return list.map((n) => ({
    id: n.meta.id,
    role: n.role,
    status: n.status.state,
    availability: n.spec.availability,
    managerStatus: n.role !== 'MANAGER' || !n.managerStatus ? '' : n.managerStatus.leader ? 'Leader' : n.managerStatus.reachability,
    addr: n.status.addr,
    labels: n.spec.annotations?.labels ?? {},
    version: n.meta.version,
  }));
}

export function nodeIdOf(d: Daemon): string {
  return /node ([a-z0-9]{25})/.exec(d.stdout)?.[1] ?? '';
}

/** Poll `check` until it returns true or the time is up; returns the last error for the message. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for: ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

export interface TaskRow {
  id: string;
  /** service.slot (or service for global tasks) */
  name: string;
  node: string;
  desired: string;
  state: string;
  err: string;
  message: string;
  hostPort: number;
  /** container id, or pid for the process runtime */
  containerId: string;
  exitCode: number;
  /** HEALTH_NONE | HEALTH_STARTING | HEALTH_HEALTHY | HEALTH_UNHEALTHY */
  health: string;
}

/** `baton service ps SERVICE --format json` on `on`, reduced to what tests compare. */
export function tasks(cluster: BatonCluster, on: string, service: string): TaskRow[] {
  const r = cluster.cli(on, ['service', 'ps', service, '--format', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return taskRows(r.stdout);
}

/**
 * `tasks` without blocking the event loop: for tests that also run clients in this process
 * (a synchronous CLI call would stall them, and their timeouts would fire on our account).
 */
export function tasksAsync(cluster: BatonCluster, on: string, service: string): Promise<TaskRow[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BATON, 'service', 'ps', '--data-dir', cluster.dataDir(on), service, '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(taskRows(out)) : reject(new Error(err))));
  });
}

function taskRows(json: string): TaskRow[] {
  return (JSON.parse(json) as {
    meta: { id: string };
    annotations: { name: string } | null;
    nodeId: string;
    desiredState: string;
    status: { state: string; err: string; message: string; exitCode: number; containerId: string; ports: { hostPort: number }[]; health?: string } | null;
  }[]).map((t) => ({
    id: t.meta.id,
    name: t.annotations?.name ?? '',
    node: t.nodeId,
    desired: t.desiredState,
    state: t.status?.state ?? '',
    err: t.status?.err ?? '',
    message: t.status?.message ?? '',
    hostPort: t.status?.ports?.[0]?.hostPort ?? 0,
    containerId: t.status?.containerId ?? '',
    exitCode: t.status?.exitCode ?? 0,
    health: t.status?.health ?? 'HEALTH_NONE',
  }));
}

/** Tasks that are meant to run and do. */
export const running = (ts: TaskRow[]): TaskRow[] => ts.filter((t) => t.desired === 'TASK_RUNNING' && t.state === 'TASK_RUNNING');
