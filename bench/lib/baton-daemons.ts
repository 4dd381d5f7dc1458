// Real baton node daemons for benchmarks: `baton init` / `baton join` (dist/src/baton.js) as
// child processes on 127.0.0.1, each with its own data dir under a temp root, registered with
// proc.ts so that they are killed on exit, Ctrl-C or an error. Clients reach a node over the SDK
// on its unix socket (<data-dir>/baton.sock), as the CLI does.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { BatonClient, baton, connect } from '../../client/index.js';
import { RpcClient } from '../../rpc/client.js';
import { controlService } from '../../rpc/services.js';
import { ManagedProcess, freePort, waitFor } from './proc.js';

/** dist/src/baton.js, next to this file's dist/bench/lib/. */
export const BATON_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/baton.js');

export interface BatonDaemon {
  name: string;
  role: 'manager' | 'worker';
  dataDir: string;
  addr: string;
  logFile: string;
  proc: ManagedProcess;
  /** Node id, from the daemon's first stdout line. */
  nodeId: string;
}

export interface DaemonOptions {
  /** Extra node flags (e.g. --cpu-prof) for every daemon. */
  nodeFlags?: string[];
  /** Extra baton flags for every daemon. */
  batonArgs?: string[];
  /** Only for managers (e.g. when profiling managers but not workers). */
  managerNodeFlags?: string[];
}

/** `baton init` (the first line says "Cluster initialized") or `baton join` ("joined"). */
const READY = /initialized|joined|resumed/;

/**
 * A socket path must fit in sockaddr_un (108 bytes): temp dirs are short, but say so clearly
 * when one is not.
 */
function checkSocketPath(dataDir: string): void {
  const sock = join(dataDir, 'baton.sock');
  if (Buffer.byteLength(sock) > 100) throw new Error(`socket path too long for a unix socket: ${sock}`);
}

export function spawnDaemon(
  name: string,
  role: 'manager' | 'worker',
  args: string[],
  dataDir: string,
  addr: string,
  logFile: string,
  nodeFlags: string[] = [],
): BatonDaemon {
  checkSocketPath(dataDir);
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: [...nodeFlags, BATON_BIN, ...args],
    logFile,
    readyLine: READY,
    readyTimeoutMs: 60_000,
  });
  const d: BatonDaemon = { name, role, dataDir, addr, logFile, proc, nodeId: '' };
  proc.ready.then(
    (line) => (d.nodeId = /node ([a-z0-9]{25})/.exec(line)?.[1] ?? ''),
    () => undefined,
  );
  return d;
}

/**
 * An SDK client of a node's control API on its unix socket. `ownConnection` gives the client a
 * connection of its own (grpc-js otherwise shares one connection between every channel to the
 * same target in a process), as separate `baton` processes would have.
 */
export function controlClient(dataDir: string, ownConnection = true): BatonClient {
  if (!ownConnection) return connect({ dataDir });
  const target = `unix://${join(dataDir, 'baton.sock')}`;
  return new BatonClient(target, new RpcClient(target, grpc.credentials.createInsecure(), controlService, { 'grpc.use_local_subchannel_pool': 1 }));
}

/** Run the CLI (`node dist/src/baton.js ...`) to completion; resolves with its exit code and output. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BATON_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** VmRSS and VmHWM (peak) of a process in KiB, from /proc/<pid>/status; undefined when unreadable. */
export function memoryKiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    const peak = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    if (rss === undefined) return undefined;
    return { rss: Number(rss), peak: Number(peak ?? rss) };
  } catch {
    return undefined;
  }
}

/** A cluster of baton daemons: one `init`, then managers and workers that `join` it. */
export class BatonDaemonCluster {
  readonly daemons: BatonDaemon[] = [];
  private workerToken = '';
  private managerToken = '';
  private readonly admin = new Map<string, BatonClient>();

  constructor(
    readonly root: string,
    private readonly opts: DaemonOptions = {},
  ) {}

  get managers(): BatonDaemon[] {
    return this.daemons.filter((d) => d.role === 'manager');
  }

  get workers(): BatonDaemon[] {
    return this.daemons.filter((d) => d.role === 'worker');
  }

  private flags(role: 'manager' | 'worker'): string[] {
    return [...(this.opts.nodeFlags ?? []), ...(role === 'manager' ? (this.opts.managerNodeFlags ?? []) : [])];
  }

  /** `baton init` as the first manager; resolves once it printed its first line and serves the control API. */
  async init(name = 'm1'): Promise<BatonDaemon> {
    const addr = `127.0.0.1:${await freePort()}`;
    const dataDir = join(this.root, name);
    const d = spawnDaemon(name, 'manager', ['init', '--data-dir', dataDir, '--listen-addr', addr, ...(this.opts.batonArgs ?? [])], dataDir, addr, join(this.root, `${name}.log`), this.flags('manager'));
    this.daemons.push(d);
    await d.proc.ready;
    const client = this.client(d);
    await waitFor(`${name} control API`, async () => (await client.control.call('ListNodes', {}, 2_000)).nodes !== undefined, 30_000);
    const c = (await client.control.call('GetCluster', {})).cluster;
    this.workerToken = c?.rootCa?.joinTokens?.worker ?? '';
    this.managerToken = c?.rootCa?.joinTokens?.manager ?? '';
    if (!this.workerToken || !this.managerToken) throw new Error('GetCluster returned no join tokens');
    return d;
  }

  /** `baton join` of a manager or worker through the first manager. */
  async join(name: string, role: 'manager' | 'worker'): Promise<BatonDaemon> {
    const first = this.daemons[0];
    if (!first) throw new Error('init first');
    const addr = `127.0.0.1:${await freePort()}`;
    const dataDir = join(this.root, name);
    const token = role === 'manager' ? this.managerToken : this.workerToken;
    const d = spawnDaemon(
      name,
      role,
      ['join', '--token', token, first.addr, '--data-dir', dataDir, '--listen-addr', addr, ...(this.opts.batonArgs ?? [])],
      dataDir,
      addr,
      join(this.root, `${name}.log`),
      this.flags(role),
    );
    this.daemons.push(d);
    await d.proc.ready;
    return d;
  }

  /** The admin client of a daemon (one shared connection), created on first use. */
  client(d: BatonDaemon): BatonClient {
    let c = this.admin.get(d.name);
    if (!c) {
      c = controlClient(d.dataDir, false);
      this.admin.set(d.name, c);
    }
    return c;
  }

  /** Every node Ready and every manager a reachable Raft member, as seen by the first manager. */
  async waitUntilFormed(timeoutMs = 60_000): Promise<baton.Node.$Properties[]> {
    const client = this.client(this.daemons[0]!);
    let nodes: baton.Node.$Properties[] = [];
    await waitFor(
      `all ${this.daemons.length} nodes Ready`,
      async () => {
        nodes = (await client.control.call('ListNodes', {}, 5_000)).nodes ?? [];
        if (nodes.length !== this.daemons.length) return false;
        if (!nodes.every((n) => n.status?.state === baton.NodeState.NODE_READY)) return false;
        const managers = nodes.filter((n) => n.role === baton.NodeRole.MANAGER);
        return (
          managers.length === this.managers.length &&
          managers.every((n) => n.managerStatus?.leader || n.managerStatus?.reachability === baton.Reachability.REACHABLE)
        );
      },
      timeoutMs,
      200,
    );
    return nodes;
  }

  /** The manager daemon that the first manager names as leader. */
  async leader(): Promise<BatonDaemon> {
    const info = await this.client(this.daemons[0]!).control.call('Info', {});
    const d = this.managers.find((m) => m.nodeId === info.leaderId);
    if (!d) throw new Error(`leader ${info.leaderId} is not one of our managers`);
    return d;
  }

  pids(role?: 'manager' | 'worker'): number[] {
    return this.daemons.filter((d) => (role ? d.role === role : true) && d.proc.running && d.proc.pid !== undefined).map((d) => d.proc.pid!);
  }

  /** SIGTERM every daemon (workers first), SIGKILL after `graceMs`; closes the admin clients. */
  async stop(graceMs = 5_000): Promise<void> {
    for (const c of this.admin.values()) c.close();
    this.admin.clear();
    await Promise.all(this.workers.map((d) => d.proc.stop(graceMs)));
    await Promise.all(this.managers.map((d) => d.proc.stop(graceMs)));
  }
}
