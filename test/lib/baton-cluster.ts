// Real baton daemons on loopback for integration tests: the product's local launcher
// (src/launcher) with a temp root per test, and the `baton` CLI run against them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster, runBaton, type CliResult, type LaunchedNode } from '../../src/launcher/cluster.js';

export type { CliResult };
export type Daemon = LaunchedNode;

export const BATON = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/baton.js');

/** Run the CLI to completion. */
export function baton(args: string[], env: Record<string, string> = {}): CliResult {
  return runBaton(BATON, args, { env });
}

export interface ClusterOptions {
  /** Each node on its own loopback address (see LauncherOptions.addressPerNode). */
  addressPerNode?: boolean;
}

export class BatonCluster extends LocalCluster {
  constructor(extra: string[] = [], options: ClusterOptions = {}) {
    super({ root: mkdtempSync(join(tmpdir(), 'baton-it-')), baton: BATON, batonArgs: extra, addressPerNode: options.addressPerNode ?? false });
  }

  /** A cluster that is torn down (processes killed, data removed) when the test ends. */
  static forTest(t: { after(fn: () => Promise<void>): void }, extra: string[] = [], options: ClusterOptions = {}): BatonCluster {
    const c = new BatonCluster(extra, options);
    t.after(async () => {
      await c.stopAll();
      c.cleanup();
    });
    return c;
  }

  get daemons(): Map<string, Daemon> {
    return this.nodes;
  }

  /** The IP a node listens on (and its mesh answers on). */
  host(name: string): string {
    return this.get(name).host;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.kill(n, 'SIGKILL')));
  }

  /**
   * Remove everything, including process-runtime tasks: they outlive a SIGKILLed daemon on
   * purpose (a restarted one adopts them), so a test that does not restart it must end them.
   */
  cleanup(): void {
    for (const d of this.nodes.values()) {
      // The agent's memory-backed secret and config files (worker/agent/task-files.ts) are
      // outside the data dir; a killed daemon leaves its tasks' there.
      if (d.nodeId) rmSync(`/dev/shm/baton-${d.nodeId}`, { recursive: true, force: true });
    }
    this.killProcessTasks();
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
  return d.nodeId;
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
