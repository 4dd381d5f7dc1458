// A baton cluster on this machine: `baton init` and `baton join` as child processes, each with
// its own data dir and log under one root dir, on loopback addresses. The demo (`npm start`),
// the integration tests and the benchmarks all start their clusters through here.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { LoggedProcess, type ProcessOptions } from './process.js';
import { waitFor } from './wait.js';

export type Role = 'manager' | 'worker';

/** The first line a daemon prints: "Cluster initialized", "joined", "resumed" or "locked" (autolock). */
const READY = /initialized|joined|resumed|locked/;
const TOKEN = { worker: /add a worker[\s\S]*?--token (\S+)/, manager: /add a manager[\s\S]*?--token (\S+)/ };

export interface LauncherOptions {
  /** Data dirs (<root>/<name>) and logs (<root>/<name>.log) go here. */
  root: string;
  /** The baton binary's script (dist/src/baton.js). */
  baton: string;
  /**
   * Each node on its own loopback address, 127.0.0.1, 127.0.0.2, … in the order they start,
   * for --listen-addr and --data-path-addr: nodes then share nothing but the machine, and each
   * one's routing mesh can bind the same published ports, as on separate machines.
   */
  addressPerNode?: boolean;
  /**
   * Where the n-th node (0, 1, … in the order they start) lives, when not on loopback: its IP
   * and the command that runs a program there (e.g. `ip netns exec NAME`, for tests that cut a
   * node off the network). Its port is `port`, free on a host of its own. Wins over
   * addressPerNode.
   */
  hostOf?: (index: number) => { host: string; port: number; runIn: string[] };
  /** Extra baton flags for every init and join. */
  batonArgs?: string[];
  /** Node (V8) flags for a daemon of this role, e.g. --cpu-prof. */
  nodeFlags?: (role: Role) => string[];
  /** How long a daemon may take to print its first line; 30 s unless said. */
  readyTimeoutMs?: number;
  /** Starts the process; benchmarks pass one that also registers it for their exit cleanup. */
  spawn?: (opts: ProcessOptions) => LoggedProcess;
}

/** One node of the cluster: where it lives, and its current (or last) process. */
export class LaunchedNode {
  constructor(
    readonly name: string,
    readonly role: Role,
    readonly dataDir: string,
    /** host:port of --listen-addr. */
    readonly addr: string,
    readonly logFile: string,
    /** The baton command line that (re)starts it: init or join with the same data dir. */
    readonly args: string[],
    readonly proc: LoggedProcess,
  ) {}

  /** The IP it listens on (and its routing mesh answers on). */
  get host(): string {
    return this.addr.replace(/:\d+$/, '');
  }

  /** What the daemon printed on stdout. */
  get stdout(): string {
    return this.proc.stdout;
  }

  /** Its node ID, from its first line ('' before it printed one). */
  get nodeId(): string {
    return /node ([a-z0-9]{25})/.exec(this.proc.stdout)?.[1] ?? '';
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** stdin's content. */
  input?: string;
  /** Show its output on this process' stdout/stderr instead of capturing it. */
  inherit?: boolean;
  timeoutMs?: number;
}

/** Run the baton CLI (`node <baton> ARGS`) to completion. */
export function runBaton(baton: string, args: string[], opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [baton, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : 'pipe',
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export class LocalCluster {
  readonly nodes = new Map<string, LaunchedNode>();
  workerToken = '';
  managerToken = '';
  /** The IDs of the clusters `init` created: containers carry them as the `baton.cluster` label. */
  readonly clusterIds = new Set<string>();

  constructor(readonly options: LauncherOptions) {}

  get root(): string {
    return this.options.root;
  }

  dataDir(name: string): string {
    return join(this.root, name);
  }

  get(name: string): LaunchedNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  list(role?: Role): LaunchedNode[] {
    return [...this.nodes.values()].filter((n) => role === undefined || n.role === role);
  }

  /** The address the next node listens on, with the flags that put it there. */
  private async nextAddress(): Promise<{ addr: string; flags: string[] }> {
    const placed = this.options.hostOf?.(this.nodes.size);
    if (placed) {
      const addr = `${placed.host}:${placed.port}`;
      return { addr, flags: ['--listen-addr', addr, '--data-path-addr', placed.host] };
    }
    if (!this.options.addressPerNode) {
      const addr = `127.0.0.1:${await freePort()}`;
      return { addr, flags: ['--listen-addr', addr] };
    }
    const host = `127.0.0.${this.nodes.size + 1}`;
    const addr = `${host}:${await freePort(host)}`;
    return { addr, flags: ['--listen-addr', addr, '--data-path-addr', host] };
  }

  /** `baton init` as the first manager; resolves once it printed its join tokens. */
  async init(name: string, extra: string[] = []): Promise<LaunchedNode> {
    const { addr, flags } = await this.nextAddress();
    const n = await this.start(name, 'manager', addr, ['init', '--data-dir', this.dataDir(name), ...flags, ...(this.options.batonArgs ?? []), ...extra]);
    // The join commands follow the first line; they are usually in the same write.
    const tokens = await waitFor(`${name}'s join tokens`, () => TOKEN.manager.test(n.stdout) && n.stdout.endsWith('\n') && n.stdout, { timeoutMs: 5_000, intervalMs: 10 });
    this.workerToken = TOKEN.worker.exec(tokens)?.[1] ?? '';
    this.managerToken = TOKEN.manager.exec(tokens)?.[1] ?? '';
    const identity = join(this.dataDir(name), 'node.json');
    if (existsSync(identity)) this.clusterIds.add((JSON.parse(readFileSync(identity, 'utf8')) as { clusterId: string }).clusterId);
    return n;
  }

  /** `baton join` as a manager or worker, through `via` (the first node unless said). */
  async join(name: string, role: Role, via?: string, extra: string[] = []): Promise<LaunchedNode> {
    const through = via === undefined ? this.list()[0] : this.get(via);
    if (!through) throw new Error('init a node first');
    const { addr, flags } = await this.nextAddress();
    const token = role === 'worker' ? this.workerToken : this.managerToken;
    return this.start(name, role, addr, ['join', '--token', token, through.addr, '--data-dir', this.dataDir(name), ...flags, ...(this.options.batonArgs ?? []), ...extra]);
  }

  /** Start a daemon with these baton arguments and wait for its first stdout line. */
  async start(name: string, role: Role, addr: string, args: string[]): Promise<LaunchedNode> {
    const n = this.launch(name, role, addr, args);
    await n.proc.ready;
    return n;
  }

  /** Start a daemon with these baton arguments; `proc.ready` resolves with its first line. */
  launch(name: string, role: Role, addr: string, args: string[]): LaunchedNode {
    const dataDir = this.dataDir(name);
    // A socket path must fit in sockaddr_un (108 bytes): say so clearly when it does not.
    const sock = join(dataDir, 'baton.sock');
    if (Buffer.byteLength(sock) > 100) throw new Error(`socket path too long for a unix socket: ${sock}`);
    const logFile = join(this.root, `${name}.log`);
    const index = this.nodes.has(name) ? [...this.nodes.keys()].indexOf(name) : this.nodes.size;
    const runIn = this.options.hostOf?.(index).runIn ?? [];
    const node = [process.execPath, ...(this.options.nodeFlags?.(role) ?? []), this.options.baton, ...args, '--log-level', 'info'];
    const [command, ...commandArgs] = [...runIn, ...node] as [string, ...string[]];
    const opts: ProcessOptions = {
      name,
      command,
      args: commandArgs,
      logFile,
      readyLine: READY,
      readyTimeoutMs: this.options.readyTimeoutMs ?? 30_000,
    };
    const proc = this.options.spawn ? this.options.spawn(opts) : new LoggedProcess(opts);
    const n = new LaunchedNode(name, role, dataDir, addr, logFile, args, proc);
    this.nodes.set(name, n);
    return n;
  }

  /** Start a node again with the command line it was started with (it resumes from its data dir). */
  async restart(name: string): Promise<LaunchedNode> {
    const n = this.get(name);
    // Its data dir is locked while it runs: a second daemon on it would only fail.
    if (n.proc.running) throw new Error(`${name} is still running: kill it before restarting it`);
    return await this.start(name, n.role, n.addr, n.args);
  }

  /** Signal a node (SIGKILL unless said) and wait for it to exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.get(name).proc.kill(signal);
  }

  /** SIGTERM every node, workers first, and SIGKILL any still up after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all(this.list('worker').map((n) => n.proc.stop(graceMs)));
    await Promise.all(this.list('manager').map((n) => n.proc.stop(graceMs)));
  }

  /** Run the CLI against a node's local socket. */
  cli(name: string, args: string[], opts: CliOptions = {}): CliResult {
    // Right after the command words: at the end it could land in a service's own command line.
    return runBaton(this.options.baton, [...args.slice(0, 2), '--data-dir', this.dataDir(name), ...args.slice(2)], opts);
  }

  /**
   * The pids of the tasks the process runtime started on this cluster's nodes. They outlive a
   * stopped or killed daemon on purpose (a restarted one adopts them), so whoever removes the
   * cluster for good must end them.
   */
  processTaskGroups(): number[] {
    const pids: number[] = [];
    for (const n of this.nodes.values()) {
      const dir = join(n.dataDir, 'tasks', 'process');
      if (!existsSync(dir)) continue;
      for (const task of readdirSafe(dir)) {
        try {
          const { pid } = JSON.parse(readFileSync(join(dir, task, 'task.json'), 'utf8')) as { pid?: number };
          if (pid) pids.push(pid);
        } catch {
          // Never started, or its record is gone.
        }
      }
    }
    return pids;
  }

  /** SIGKILL the process groups of every process-runtime task (see processTaskGroups). */
  killProcessTasks(): void {
    for (const pid of this.processTaskGroups()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
