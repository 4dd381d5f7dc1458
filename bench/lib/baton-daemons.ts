// Real baton node daemons for benchmarks: the product's local launcher (src/launcher) on
// 127.0.0.1, each daemon with its own data dir under a temp root and registered with proc.ts so
// that it is killed on exit, Ctrl-C or an error. Clients reach a node over the SDK on its unix
// socket (<data-dir>/baton.sock), as the CLI does.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { BatonClient, baton, connect } from '../../client/index.js';
import { RpcClient } from '../../rpc/client.js';
import { controlService } from '../../rpc/services.js';
import { LocalCluster, type LaunchedNode, type LauncherOptions } from '../../src/launcher/cluster.js';
import { ManagedProcess, waitFor } from './proc.js';

/** dist/src/baton.js, next to this file's dist/bench/lib/. */
export const BATON_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/baton.js');

export type BatonDaemon = LaunchedNode;

export interface DaemonOptions {
  /** Extra node flags (e.g. --cpu-prof) for every daemon. */
  nodeFlags?: string[];
  /** Extra baton flags for every daemon. */
  batonArgs?: string[];
  /** Only for managers (e.g. when profiling managers but not workers). */
  managerNodeFlags?: string[];
  /** Each daemon on its own loopback address (127.0.0.1, .2, …), as separate machines: see LauncherOptions. */
  addressPerNode?: boolean;
  /** Each daemon on a host of its own (see LauncherOptions.hostOf; test/lib/netns-engines.ts makes them). */
  hostOf?: LauncherOptions['hostOf'];
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

/** A cluster of baton daemons: one `init`, then managers and workers that `join` it, with SDK clients. */
export class BatonDaemonCluster extends LocalCluster {
  private readonly admin = new Map<string, BatonClient>();

  constructor(root: string, opts: DaemonOptions = {}) {
    super({
      root,
      baton: BATON_BIN,
      batonArgs: opts.batonArgs ?? [],
      addressPerNode: opts.addressPerNode ?? false,
      ...(opts.hostOf ? { hostOf: opts.hostOf } : {}),
      nodeFlags: (role) => [...(opts.nodeFlags ?? []), ...(role === 'manager' ? (opts.managerNodeFlags ?? []) : [])],
      readyTimeoutMs: 60_000,
      spawn: (o) => new ManagedProcess(o),
    });
  }

  get managers(): BatonDaemon[] {
    return this.list('manager');
  }

  get workers(): BatonDaemon[] {
    return this.list('worker');
  }

  /** `baton init` as the first manager; resolves once it printed its first line and serves the control API. */
  override async init(name = 'm1', extra: string[] = []): Promise<BatonDaemon> {
    const d = await super.init(name, extra);
    const client = this.client(d);
    await waitFor(`${name} control API`, async () => (await client.control.call('ListNodes', {}, 2_000)).nodes !== undefined, { timeoutMs: 30_000, intervalMs: 50 });
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
    const client = this.client(this.list()[0]!);
    const all = this.list().length;
    return waitFor(
      `all ${all} nodes Ready`,
      async () => {
        const nodes = (await client.control.call('ListNodes', {}, 5_000)).nodes ?? [];
        if (nodes.length !== all) return undefined;
        if (!nodes.every((n) => n.status?.state === baton.NodeState.NODE_READY)) return undefined;
        const managers = nodes.filter((n) => n.role === baton.NodeRole.MANAGER);
        const formed =
          managers.length === this.managers.length &&
          managers.every((n) => n.managerStatus?.leader || n.managerStatus?.reachability === baton.Reachability.REACHABLE);
        return formed ? nodes : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** The manager daemon that the first manager names as leader. */
  async leader(): Promise<BatonDaemon> {
    const info = await this.client(this.list()[0]!).control.call('Info', {});
    const d = this.managers.find((m) => m.nodeId === info.leaderId);
    if (!d) throw new Error(`leader ${info.leaderId} is not one of our managers`);
    return d;
  }

  pids(role?: 'manager' | 'worker'): number[] {
    return this.list(role).filter((d) => d.proc.running && d.proc.pid !== undefined).map((d) => d.proc.pid!);
  }

  /** SIGTERM every daemon (workers first), SIGKILL after `graceMs`; closes the admin clients. */
  override async stop(graceMs = 5_000): Promise<void> {
    for (const c of this.admin.values()) c.close();
    this.admin.clear();
    await super.stop(graceMs);
  }
}
