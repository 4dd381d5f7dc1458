// Real baton daemons on loopback for integration tests: the product's local launcher
// (src/launcher) with a temp root per test, and the `baton` CLI run against them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { removeLocalClusterNetworks } from './docker-networks.js';
import { LocalCluster, runBaton, type CliResult, type LaunchedNode, type LauncherOptions } from '../../src/launcher/cluster.js';
import { waitFor } from './wait.js';

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
  /** Each node on a host of its own (see LauncherOptions.hostOf; test/lib/netns.ts makes them). */
  hostOf?: LauncherOptions['hostOf'];
}

export class BatonCluster extends LocalCluster {
  constructor(extra: string[] = [], options: ClusterOptions = {}) {
    super({ root: mkdtempSync(join(tmpdir(), 'baton-it-')), baton: BATON, batonArgs: extra, addressPerNode: options.addressPerNode ?? false, ...(options.hostOf ? { hostOf: options.hostOf } : {}) });
  }

  /** A cluster that is torn down (processes killed, data removed) when the test ends. */
  static forTest(t: { after(fn: () => Promise<void>): void }, extra: string[] = [], options: ClusterOptions = {}): BatonCluster {
    const c = new BatonCluster(extra, options);
    t.after(async () => {
      await c.stopAll();
      // Process tasks on networks (every stack's) made bridges on the node's engine, if any.
      await removeLocalClusterNetworks(c.clusterIds);
      c.cleanup();
    });
    return c;
  }

  /**
   * `init` m1, then managers m2… and workers w1… joining through m1; resolves once m1 lists
   * them all Ready, each manager with its Raft status.
   */
  async form(managers: number, workers = 0): Promise<void> {
    await this.init('m1');
    for (let i = 2; i <= managers; i++) await this.join(`m${i}`, 'manager', 'm1');
    for (let i = 1; i <= workers; i++) await this.join(`w${i}`, 'worker', 'm1');
    await waitFor(`${managers} managers and ${workers} workers ready`, () => {
      const ns = nodes(this, 'm1');
      return ns.length === managers + workers && ns.every((n) => n.status === 'NODE_READY') && ns.filter((n) => n.managerStatus !== '').length === managers;
    });
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

/**
 * The objects `baton inspect --type KIND` prints for `ids` (listed just before by `ls -q`/`ps -q`;
 * `ls --format json` prints Docker's flat rows, not the objects). One removed in between (a task
 * the reaper took) is left out, as `inspect` prints the others and names it on stderr.
 */
function inspected(r: CliResult, what: string): unknown[] {
  const stray = r.stderr.replace(/^Error: (no such object: \S+(; )?)+\n$/, '');
  if (r.code !== 0 && (stray !== '' || r.stdout.trim() === '')) throw new Error(`${what} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown[];
}

function idsOf(r: CliResult, what: string): string[] {
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/**
 * The whole objects a listing shows on `on`: `LISTING -q` (e.g. ['node', 'ls']), then
 * `baton inspect --type TYPE` of those ids, as a script does it with Docker.
 */
export function listedObjects(cluster: BatonCluster, on: string, listing: string[], type: 'node' | 'service' | 'task' | 'network'): unknown[] {
  const ids = idsOf(cluster.cli(on, [...listing, '-q']), `${listing.join(' ')} on ${on}`);
  if (ids.length === 0) return [];
  // The ids first: cluster.cli puts --data-dir after the first two words.
  return inspected(cluster.cli(on, ['inspect', ...ids, '--type', type]), `inspect of ${listing.join(' ')} on ${on}`);
}

/** Every node as `name` sees it, reduced to what tests compare. */
export function nodes(cluster: BatonCluster, name: string): NodeRow[] {
  const list = listedObjects(cluster, name, ['node', 'ls'], 'node') as {
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

/**
 * Waits until a manager just (re)started (resumed, unlocked, recovered, restored or joined)
 * answers reads, and returns its `service ls`. Its reads are linearizable: until it knows a
 * leader (a lone voter elects itself within an election timeout; a follower must hear from the
 * leader) it answers "no leader known ... retry"; from then on, with the cluster's current state.
 */
export function answersReads(cluster: BatonCluster, name: string): Promise<string> {
  return waitFor(`${name} to answer reads`, () => {
    const r = cluster.cli(name, ['service', 'ls']);
    if (r.code !== 0) throw new Error(r.stderr.trim());
    return r.stdout;
  });
}

/** The leading manager as `on` sees it: its node ID and the name of its daemon. */
export function leaderOf(cluster: BatonCluster, on: string): { id: string; name: string } {
  const id = nodes(cluster, on).find((n) => n.managerStatus === 'Leader')?.id;
  const d = cluster.list().find((x) => x.nodeId === id);
  if (id === undefined || !d) throw new Error(`${on} names no leader among this cluster's daemons`);
  return { id, name: d.name };
}

/**
 * Scales `service` to `replicas` on the leader (as `on` names it), SIGKILLs that leader at once,
 * and waits until a surviving manager shows exactly `replicas` tasks running, one per slot, none
 * on the dead node. Returns the dead leader's node ID and the manager that answered.
 */
export async function scaleAndKillLeader(cluster: BatonCluster, on: string, service: string, replicas: number, timeoutMs: number): Promise<{ deadId: string; survivor: string }> {
  const leader = leaderOf(cluster, on);
  const survivor = cluster.list('manager').find((m) => m.name !== leader.name)!.name;
  assert.equal(cluster.cli(leader.name, ['service', 'scale', '-d', `${service}=${replicas}`]).code, 0);
  await cluster.kill(leader.name);
  await waitFor(`exactly ${replicas} tasks of ${service} running under the new leader, one per slot`, () => {
    const live = running(tasks(cluster, survivor, service));
    return live.length === replicas && new Set(live.map((x) => x.name)).size === replicas && live.every((x) => x.node !== leader.id);
  }, { timeoutMs });
  return { deadId: leader.id, survivor };
}

/** `service create` of a process task with these flags fails, with one `Error:` line matching `pattern`. */
/**
 * The name assertCreateRefused gives its service. A '-' is never in an object id, so looking it
 * up afterwards cannot match another service's id by prefix (as a one-letter name could).
 */
export const REFUSED_SERVICE = 'refused-service';

export function assertCreateRefused(cluster: BatonCluster, on: string, args: string[], pattern: RegExp): void {
  const r = cluster.cli(on, ['service', 'create', '--runtime', 'process', '--name', REFUSED_SERVICE, ...args, '--', 'sleep', '100']);
  assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
  assert.match(r.stderr, /^Error: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
}

/** `baton ARGS` on node `on`, asserted to succeed (the command and its output in the failure); its stdout. */
export function cliOk(cluster: BatonCluster, on: string, args: string[]): string {
  const r = cluster.cli(on, args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
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

/** The tasks of SERVICE as `on` sees them (`service ps -q`, then `inspect`), reduced to what tests compare. */
export function tasks(cluster: BatonCluster, on: string, service: string): TaskRow[] {
  return taskRows(listedObjects(cluster, on, ['service', 'ps', service], 'task'));
}

/**
 * `tasks` without blocking the event loop: for tests that also run clients in this process
 * (a synchronous CLI call would stall them, and their timeouts would fire on our account).
 */
export async function tasksAsync(cluster: BatonCluster, on: string, service: string): Promise<TaskRow[]> {
  const run = (args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [BATON, ...args, '--data-dir', cluster.dataDir(on)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  const ids = idsOf(await run(['service', 'ps', '-q', service]), `service ps ${service} on ${on}`);
  if (ids.length === 0) return [];
  return taskRows(inspected(await run(['inspect', '--type', 'task', ...ids]), `task inspect on ${on}`));
}

function taskRows(list: unknown[]): TaskRow[] {
  return (list as {
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
