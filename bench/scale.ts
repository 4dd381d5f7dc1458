// npm run bench:scale — one cluster at scale: 3 real manager daemons (`baton init`/`join` on
// 127.0.0.1, drained so they run no tasks) and N simulated nodes (default 1,000) hosted by a few
// processes (bench/scale-sim.ts). Each simulated node joins with the worker token through the
// real CA (its own key and certificate), holds its own session and heartbeats over mTLS gRPC,
// and runs the real agent over an in-memory executor (Running after --executor-delay-ms).
// Simulated, besides the executor: the agent's store is in memory (a real node's LevelDB writes
// are not measured; --sim-store leveldb pays them), and the heartbeats go from a thread of each
// host process that its nodes' work does not block, at the managers' priority while the rest of
// the host is niced (--sim-heartbeats inline: from the nodes' own event loop, all niced), over a
// connection of their own beside the session's (see docs/scale.md).
// Services totalling T tasks (default 100,000; at most 10,000 replicas each, the spec's limit)
// are created through the control API, and it measures:
//   secondsToRunning  first CreateService → every task's Running status acknowledged by the
//                     leader (a status is acknowledged once it is applied to the leader's store;
//                     the count is then checked once with ListTasks from the store itself);
//   leader RSS (peak) and CPU while converging; heartbeat round trip p50/p99 as the nodes see it;
//   push latency: the scheduler's assignment timestamp → the node's session receives the task;
//   the leader's latest Raft snapshot file (size) and how long the store takes to encode one;
//   `baton service ls` and `baton service ps <10,000-task service>` through the CLI (a process,
//   its local socket, as a user runs them);
//   catchUpSeconds    `baton join` of a 4th manager → it answers a linearizable read (its store
//                     has every acknowledged write);
//   rescheduleSeconds SIGKILL of the process hosting --kill nodes (default 100) → every task is
//                     Running again (acknowledged) on the others.
// The peer column is published figures, not measured here (no Swarm, Nomad or Kubernetes at this
// scale on this machine). Writes bench/results/scale-latest.json.
// Flags: --nodes N, --tasks T, --hosts H (simulated-node processes besides the one with the
// nodes to kill), --kill K, --executor-delay-ms D, --join-concurrency J, --timeout S (each wait),
// --sim-nice N (niceness of the simulated nodes' processes, default 10; 0 to compete evenly),
// --sim-store memory|leveldb, --sim-heartbeats thread|inline (what the simulation's shortcuts save),
// --cpu-prof (V8 profiles of the managers and, while converging, of the simulated hosts; with
// --keep), --election-timeout D (the managers' own), --max-heartbeats-per-second N (the cluster's,
// at init), --joins-only (stop after the joins: nodes recorded over time, the managers' CPU and
// time waiting for one, nodes marked down meanwhile), --keep, --out DIR.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { baton, type BatonClient } from '../client/index.js';
import { ClusterStore } from '../manager/store/index.js';
import { decodeSnapshot } from '../raft/storage/records.js';
import { BatonDaemonCluster, memoryKiB, runCli, type BatonDaemon } from './lib/baton-daemons.js';
import { benchDir, count, num, projectRoot } from './lib/args.js';
import { cpuTimeMs, installCleanupHandlers, keepTempDirs, makeTempDir, sleep } from './lib/proc.js';
import { busyMachineWarning, formatTable, machineInfo, writeRun } from './lib/results.js';
import { percentile, round } from './lib/stats.js';
import type { SimReply, SimRequest, SimStats } from './scale-sim.js';
import type { Arrival } from './lib/sim-node.js';
import { readLog } from './lib/pino-log.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string' },
    tasks: { type: 'string' },
    hosts: { type: 'string' },
    kill: { type: 'string' },
    'executor-delay-ms': { type: 'string' },
    'join-concurrency': { type: 'string' },
    'sim-nice': { type: 'string' },
    'sim-store': { type: 'string', default: 'memory' },
    'sim-heartbeats': { type: 'string', default: 'thread' },
    timeout: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // Stop once every node has joined (or a join failed): the join phase's figures only.
    'joins-only': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    // The managers' --election-timeout (baton init/join), e.g. 5s: a loaded machine stalls them past the default.
    'election-timeout': { type: 'string' },
    // The cluster's --max-heartbeats-per-second (baton init): below the default 200, a few hundred
    // nodes are told the long periods of a 1,000-node cluster (5 s at nodes / 5), whose losses
    // are detected as at that size.
    'max-heartbeats-per-second': { type: 'string' },
    out: { type: 'string' },
  },
});

const NODES = count(args.nodes, 1000, 2);
const TASKS = count(args.tasks, 100_000);
const KILL = Math.min(NODES - 1, count(args.kill, Math.min(100, Math.floor(NODES / 10)), 0));
const HOSTS = count(args.hosts, Math.min(4, Math.ceil((NODES - KILL) / 250)));
const EXECUTOR_DELAY_MS = num(args['executor-delay-ms'], undefined, 50);
/** Niceness of the simulated nodes' processes (0: the managers' own). */
const SIM_NICE = Math.min(19, count(args['sim-nice'], 10, 0));
let simNiceFailed = false;
const SIM_STORE = args['sim-store'];
const SIM_HEARTBEATS = args['sim-heartbeats'];
{
  const bad = [
    ...(SIM_STORE === 'memory' || SIM_STORE === 'leveldb' ? [] : [`--sim-store must be memory or leveldb, not "${SIM_STORE}"`]),
    ...(SIM_HEARTBEATS === 'thread' || SIM_HEARTBEATS === 'inline' ? [] : [`--sim-heartbeats must be thread or inline, not "${SIM_HEARTBEATS}"`]),
  ];
  if (bad.length > 0) {
    process.stderr.write(`bench:scale: ${bad.join('; ')}\n`);
    process.exit(2);
  }
}
const JOIN_CONCURRENCY = count(args['join-concurrency'], 16);
const TIMEOUT_MS = num(args.timeout, undefined, 600) * 1000;
const MAX_REPLICAS = 10_000;
const SERVICES = Math.ceil(TASKS / MAX_REPLICAS);
const outDir = resolve(args.out ?? join(projectRoot, 'bench/results'));

/** Published by the peers, not measured here. */
const PUBLISHED = {
  swarm: 'Docker Swarm community test (2016): ~95,000 tasks on 2,384 nodes, 3 managers',
  nomad: 'Nomad C1M (2016): 1,000,000 containers on 5,000 hosts in < 5 min, ~3,750 placements/s',
  kubernetes: 'Kubernetes SLO: 5,000 nodes / 150,000 pods, API call p99 <= 1 s',
};

class SimHost {
  readonly child: ChildProcess;
  private waiting: ((msg: SimReply) => void)[] = [];
  nodes = 0;
  alive = true;

  constructor(
    readonly name: string,
    readonly count: number,
    logFd: number,
  ) {
    this.child = fork(join(benchDir, 'scale-sim.js'), [], { stdio: ['ignore', logFd, logFd, 'ipc'] });
    hosts.add(this.child);
    this.child.on('message', (msg: SimReply) => {
      if (msg.type === 'error') process.stderr.write(`${name}: ${msg.message}\n`);
      this.waiting.shift()?.(msg);
    });
    this.child.once('exit', () => {
      this.alive = false;
      hosts.delete(this.child);
    });
  }

  private ask(req: SimRequest, timeoutMs: number): Promise<SimReply> {
    return new Promise((resolveAsk, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to ${req.type} in ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((msg) => {
        clearTimeout(timer);
        resolveAsk(msg);
      });
      this.child.send(req);
    });
  }

  async start(remote: string, token: string, stateRoot: string, cpuProfileDir: string | undefined): Promise<number> {
    // The simulated nodes stand for other machines: on this one they take the CPU the managers
    // (what is measured) leave, instead of starving them into missed Raft heartbeats. The host
    // renices itself (all its threads but the heartbeat thread's).
    const r = await this.ask(
      {
        type: 'start',
        remote,
        token,
        count: this.count,
        prefix: this.name,
        stateRoot,
        executorDelayMs: EXECUTOR_DELAY_MS,
        joinConcurrency: JOIN_CONCURRENCY,
        store: SIM_STORE === 'leveldb' ? 'leveldb' : 'memory',
        heartbeats: SIM_HEARTBEATS === 'inline' ? 'inline' : 'thread',
        nice: SIM_NICE,
        ...(cpuProfileDir ? { cpuProfileDir } : {}),
      },
      TIMEOUT_MS,
    );
    if (r.type !== 'joined') throw new Error(`${this.name}: ${r.type === 'error' ? r.message : 'unexpected reply'}`);
    // Not permitted here: the hosts run at the managers' priority (the output says so).
    if (!r.niced) simNiceFailed = true;
    this.nodes = r.nodes;
    return r.seconds;
  }

  /** Stops its profile (--cpu-prof) and says where it was written. */
  async profile(): Promise<string | undefined> {
    // Replies come in the order of the requests only for one request at a time.
    await this.pending?.catch(() => undefined);
    const r = await this.ask({ type: 'profile' }, TIMEOUT_MS);
    if (r.type !== 'profiled') throw new Error(`${this.name}: ${r.type === 'error' ? r.message : 'unexpected reply'}`);
    return r.path;
  }

  /** Its nodes' Running count in its last answer. */
  lastRunning = 0;
  private pending: Promise<void> | undefined;

  /** Whether a stats request is still unanswered. */
  get late(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Asks for its stats unless a request is still unanswered; `use` gets the answer whenever it
   * comes. A host that answers nothing within the run's wait fails the run.
   */
  stats(use: (s: SimStats) => void): Promise<void> {
    this.pending ??= this.ask({ type: 'stats' }, TIMEOUT_MS)
      .then((r) => {
        if (r.type !== 'stats') throw new Error(`${this.name}: ${r.type === 'error' ? r.message : 'unexpected reply'}`);
        this.lastRunning = r.running;
        use(r);
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

/** How long a poll waits for the hosts' answers before it counts with their last ones. */
const STATS_WAIT_MS = 5_000;

const hosts = new Set<ChildProcess>();
function killHosts(): void {
  for (const c of hosts) c.kill('SIGKILL');
  hosts.clear();
}

/** Heartbeat and push samples from every host, with their Running counts. */
class Gauges {
  heartbeat: number[] = [];
  heartbeatFailures = 0;
  push: number[] = [];
  arrivals: Arrival[] = [];
  /** The newest Running acknowledgement any host saw (ms since the epoch). */
  lastRunningAckAt = 0;
  /** The worst host's timer lateness (ms): its nodes' event loop, and its heartbeat thread's. */
  loopP99Ms = 0;
  loopMaxMs = 0;
  heartbeatLoopP99Ms = 0;
  heartbeatLoopMaxMs = 0;

  /** Polls in which some host had not answered within STATS_WAIT_MS. */
  latePolls = 0;

  /**
   * Every live host's Running count. A niced host on a loaded machine may not answer for
   * seconds: its last count stands meanwhile, and its samples are taken when its answer comes.
   */
  async poll(list: SimHost[]): Promise<number> {
    const alive = list.filter((h) => h.alive);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(alive.map((h) => h.stats((s) => this.add(s)))), new Promise<void>((resolve) => (timer = setTimeout(resolve, STATS_WAIT_MS)))]).finally(() => clearTimeout(timer));
    if (alive.some((h) => h.late)) this.latePolls++;
    return alive.reduce((n, h) => n + h.lastRunning, 0);
  }

  private add(s: SimStats): void {
    for (const v of s.heartbeatMs) this.heartbeat.push(v);
    for (const v of s.pushMs) this.push.push(v);
    for (const a of s.arrivals) this.arrivals.push(a);
    this.heartbeatFailures += s.heartbeatFailures;
    this.lastRunningAckAt = Math.max(this.lastRunningAckAt, s.lastRunningAckAt);
    this.loopP99Ms = Math.max(this.loopP99Ms, s.loop.p99Ms);
    this.loopMaxMs = Math.max(this.loopMaxMs, s.loop.maxMs);
    this.heartbeatLoopP99Ms = Math.max(this.heartbeatLoopP99Ms, s.heartbeatLoop?.p99Ms ?? 0);
    this.heartbeatLoopMaxMs = Math.max(this.heartbeatLoopMaxMs, s.heartbeatLoop?.maxMs ?? 0);
  }

  reset(): void {
    this.heartbeat = [];
    this.push = [];
    this.arrivals = [];
    this.heartbeatFailures = 0;
    this.loopP99Ms = this.loopMaxMs = this.heartbeatLoopP99Ms = this.heartbeatLoopMaxMs = 0;
  }

  /** Timer lateness on the simulated side (ms, worst host): with heartbeat round trips, where a late heartbeat's time went. */
  lateness(): { nodesLoopP99Ms: number; nodesLoopMaxMs: number; heartbeatLoopP99Ms: number; heartbeatLoopMaxMs: number } {
    return { nodesLoopP99Ms: round(this.loopP99Ms, 1), nodesLoopMaxMs: round(this.loopMaxMs, 1), heartbeatLoopP99Ms: round(this.heartbeatLoopP99Ms, 1), heartbeatLoopMaxMs: round(this.heartbeatLoopMaxMs, 1) };
  }
}

function pct(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  return round(percentile(sorted, p), 1);
}

/**
 * RSS and CPU of a set of processes while something runs: every manager (the leader may change
 * under load: each manager's own figures are kept, and the leader's are those of whoever led at
 * the end), and the simulated nodes' hosts (what the machine's cores spent on the simulation).
 */
class ProcessSampler {
  private readonly peakKiB = new Map<number, number>();
  private readonly cpu0 = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;

  constructor(private readonly pids: number[]) {}

  start(): void {
    for (const pid of this.pids) this.cpu0.set(pid, cpuTimeMs([pid]) ?? 0);
    this.t0 = performance.now();
    this.timer = setInterval(() => this.sample(), 250);
  }

  private sample(): void {
    for (const pid of this.pids) {
      const m = memoryKiB(pid);
      if (m) this.peakKiB.set(pid, Math.max(this.peakKiB.get(pid) ?? 0, m.rss));
    }
  }

  /** Stops; each manager's peak RSS (MiB), CPU seconds and average cores busy over the window. */
  stop(): Map<number, { peakRssMiB: number; cpuSeconds: number; cpuCores: number }> {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    const wall = Math.max((performance.now() - this.t0) / 1000, 1e-3);
    const out = new Map<number, { peakRssMiB: number; cpuSeconds: number; cpuCores: number }>();
    for (const pid of this.pids) {
      const cpu = ((cpuTimeMs([pid]) ?? 0) - (this.cpu0.get(pid) ?? 0)) / 1000;
      out.set(pid, { peakRssMiB: Math.round((this.peakKiB.get(pid) ?? 0) / 1024), cpuSeconds: round(cpu, 1), cpuCores: round(cpu / wall, 2) });
    }
    return out;
  }
}

/** Who leads, asked of one manager each time (Info answers from its own view). */
class LeaderWatch {
  readonly seen: string[] = [];

  constructor(private readonly client: BatonClient) {}

  async poll(): Promise<void> {
    try {
      const id = (await this.client.control.call('Info', {}, 2_000)).leaderId ?? '';
      if (id && id !== this.seen[this.seen.length - 1]) this.seen.push(id);
    } catch {
      // No answer in time: the next poll asks again.
    }
  }

  get changes(): number {
    return Math.max(0, this.seen.length - 1);
  }
}

/**
 * --joins-only: the join phase on its own. Every 5 s the nodes the store holds (ListNodes on
 * the leader) and how many are Ready; at the end the managers' CPU over the phase and the nodes
 * marked down for silence meanwhile, by rule. Then the run stops, failed joins or not.
 */
class JoinPhase {
  private readonly t0 = performance.now();
  private readonly sampler: ProcessSampler;
  /** Each manager's main thread at the start (see mainThreadSched), and the kernel's listen-queue overflows. */
  private readonly sched0: Map<number, { ranMs: number; waitedMs: number } | undefined>;
  private readonly overflows0 = listenOverflows();
  private readonly timeline: { seconds: number; recorded: number; ready: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly cluster: BatonDaemonCluster,
    private readonly admin: BatonClient,
  ) {
    this.sampler = new ProcessSampler(cluster.pids('manager'));
    this.sched0 = new Map(cluster.pids('manager').map((pid) => [pid, mainThreadSched(pid)]));
  }

  start(): void {
    this.sampler.start();
    this.timer = setInterval(() => void this.poll(), 5_000);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const listed = await this.admin.list('ListNodes', {}).catch(() => undefined);
      if (!listed) return;
      const workers = listed.filter((n) => n.role !== baton.NodeRole.MANAGER);
      const ready = workers.filter((n) => n.status?.state === baton.NodeState.NODE_READY).length;
      const row = { seconds: round((performance.now() - this.t0) / 1000, 1), recorded: workers.length, ready };
      this.timeline.push(row);
      console.log(`  ${row.seconds} s: ${row.recorded} nodes recorded, ${row.ready} Ready`);
    } finally {
      this.polling = false;
    }
  }

  /** Prints and writes the phase's figures, then ends the run (exit code 1 when a join failed). */
  async report(err: unknown, nodes: number): Promise<never> {
    if (this.timer) clearInterval(this.timer);
    const seconds = round((performance.now() - this.t0) / 1000, 1);
    const perManager = this.sampler.stop();
    const leaderNow = await this.cluster.leader().catch(() => undefined);
    const managers = this.cluster.managers.map((m) => {
      const [start, end] = [this.sched0.get(m.proc.pid!), mainThreadSched(m.proc.pid!)];
      const mainThread = start && end ? { ranSeconds: round((end.ranMs - start.ranMs) / 1000, 1), waitedForCpuSeconds: round((end.waitedMs - start.waitedMs) / 1000, 1) } : undefined;
      return { name: m.name, leader: m === leaderNow, ...(perManager.get(m.proc.pid!) ?? {}), mainThread };
    });
    const overflows = this.overflows0 === undefined ? undefined : (listenOverflows() ?? 0) - this.overflows0;
    const { nodes: downNodes, ...down } = markDowns(this.cluster.managers.map((m) => m.logFile));
    const failure = err === undefined ? undefined : err instanceof Error ? err.message : JSON.stringify(err);
    console.log(`join phase: ${failure ? `a join failed after ${seconds} s: ${failure.split('\n')[0]}` : `${nodes} nodes in ${seconds} s`}`);
    console.log(`  managers' CPU (cores): ${managers.map((m) => `${m.name}${m.leader ? ' (leader)' : ''} ${m.cpuCores ?? '-'}`).join(', ')}`);
    console.log(`  managers' main threads, seconds running / runnable but waiting for a CPU: ${managers.map((m) => `${m.name} ${m.mainThread ? `${m.mainThread.ranSeconds} / ${m.mainThread.waitedForCpuSeconds}` : '-'}`).join(', ')}`);
    console.log(`  connections dropped from full listen queues (the machine's TcpExt ListenOverflows): ${overflows ?? '-'}`);
    console.log(`  marked down for silence meanwhile: ${downNodes.size} nodes (${down.lines} log lines; by rule ${JSON.stringify(down.byRule)})`);
    const path = writeRun(outDir, 'scale-joins', new Date(), machineInfo(), loadavg(), { nodes, seconds, failure, managers, listenOverflows: overflows, markedDown: { ...down, nodes: downNodes.size }, timeline: this.timeline, joinConcurrency: JOIN_CONCURRENCY });
    console.log(`results: ${path}`);
    killHosts();
    await this.cluster.stop(2_000);
    process.exit(failure ? 1 : 0);
  }
}

/**
 * A process's main thread: time on a CPU and time runnable but waiting for one (Linux
 * schedstat, ns): on a shared machine, whether a slow manager was busy or starved.
 */
function mainThreadSched(pid: number): { ranMs: number; waitedMs: number } | undefined {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return ran === undefined || waited === undefined ? undefined : { ranMs: ran / 1e6, waitedMs: waited / 1e6 };
  } catch {
    return undefined;
  }
}

/** Connections the kernel dropped because a listen queue was full (every process's), if it says. */
function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const [names, values] = lines.map((l) => l.trim().split(/\s+/));
    const at = names?.indexOf('ListenOverflows') ?? -1;
    return at > 0 && values ? Number(values[at]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long nodes whose session ended took to open the next one (the managers' logs): a live node
 * whose connection dropped is down if it takes longer than the 'session ended' allowance (3 s).
 */
function sessionReturns(logFiles: string[]): { count: number; p50Ms: number | undefined; p99Ms: number | undefined; maxMs: number | undefined } {
  const after = logFiles
    .flatMap((file) => readLog(file, 'node opened a session again after its last one ended'))
    .map((e) => (typeof e.afterMs === 'number' ? e.afterMs : 0));
  return { count: after.length, p50Ms: pct(after, 50), p99Ms: pct(after, 99), maxMs: pct(after, 100) };
}

/** The managers' mark-downs for silence (their logs): log lines, distinct nodes, lines by rule. */
function markDowns(logFiles: string[]): { lines: number; nodes: Set<string>; byRule: Record<string, number> } {
  const nodes = new Set<string>();
  const byRule: Record<string, number> = {};
  let lines = 0;
  for (const file of logFiles) {
    for (const entry of readLog(file, 'node missed its heartbeats: marking it down')) {
      lines++;
      nodes.add(typeof entry.node === 'string' ? entry.node : '');
      const rule = typeof entry.rule === 'string' ? entry.rule : '?';
      byRule[rule] = (byRule[rule] ?? 0) + 1;
    }
  }
  return { lines, nodes, byRule };
}

async function until<T>(what: string, timeoutMs: number, intervalMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Tasks desired and observed Running, counted from the store (ListTasks, every page). */
async function runningInStore(client: BatonClient): Promise<{ running: number; all: number }> {
  const tasks = await client.list('ListTasks', {});
  const running = tasks.filter((t) => t.desiredState === baton.TaskState.TASK_RUNNING && t.status?.state === baton.TaskState.TASK_RUNNING).length;
  return { running, all: tasks.length };
}

/** The newest Raft snapshot file of a manager, and how long the store takes to encode the same state. */
function snapshotOf(d: BatonDaemon): { bytes: number; file: string } | undefined {
  const dir = join(d.dataDir, 'raft');
  const files: { path: string; bytes: number; mtime: number }[] = [];
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const full = join(p, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (/snap/.test(full)) files.push({ path: full, bytes: st.size, mtime: st.mtimeMs });
    }
  };
  try {
    walk(dir);
  } catch {
    return undefined;
  }
  const newest = files.sort((a, b) => b.mtime - a.mtime)[0];
  return newest && { bytes: newest.bytes, file: newest.path };
}

/** How long `baton ARGS` takes, run as a user runs it (a process on the manager's local socket). */
async function cliSeconds(d: BatonDaemon, argv: string[]): Promise<{ seconds: number; lines: number }> {
  const started = performance.now();
  const r = await runCli([...argv.slice(0, 2), '--data-dir', d.dataDir, ...argv.slice(2)], 120_000);
  const seconds = (performance.now() - started) / 1000;
  if (r.code !== 0) throw new Error(`baton ${argv.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(0, 500)}`);
  return { seconds: round(seconds, 3), lines: r.stdout.trimEnd().split('\n').length };
}

function serviceSpec(name: string, replicas: number): baton.ServiceSpec.$Properties {
  return {
    annotations: { name },
    replicas,
    task: { runtime: 'process', container: { image: 'scale-sim', command: ['sleep', '1000000'] } },
  };
}

async function main(): Promise<void> {
  installCleanupHandlers();
  keepTempDirs(args.keep);
  process.on('exit', killHosts);
  const started = new Date();
  const load0 = loadavg();
  const root = makeTempDir('baton-scale');
  // The simulated nodes' agent DBs with --sim-store leveldb: LevelDB with sync writes, on memory (thousands of them).
  const stateRoot = mkdtempSync('/dev/shm/baton-scale-');
  process.on('exit', () => {
    if (!args.keep) rmSync(stateRoot, { recursive: true, force: true });
  });
  console.log(`bench:scale: ${NODES} simulated nodes (${HOSTS} hosts + 1 with the ${KILL} to kill), ${TASKS} tasks in ${SERVICES} services; load ${load0.map((v) => v.toFixed(2)).join(' ')}; temp ${root}`);

  // --cpu-prof: every manager writes a V8 CPU profile on exit, into <temp>/profiles (kept with --keep).
  const profileDir = join(root, 'profiles');
  // Sampled every 10 ms, not V8's 1 ms: a run of minutes at 1 ms is a profile too big to write
  // in the grace a daemon gets to exit.
  const cluster = new BatonDaemonCluster(root, {
    ...(args['cpu-prof'] ? { managerNodeFlags: ['--cpu-prof', '--cpu-prof-interval', '10000', '--cpu-prof-dir', profileDir] } : {}),
    ...(args['election-timeout'] ? { batonArgs: ['--election-timeout', args['election-timeout']] } : {}),
  });
  /** Seconds a manager gets to exit (and write its profile) when the run ends. */
  const stopGraceMs = args['cpu-prof'] ? 60_000 : 2_000;
  await cluster.init('m1', args['max-heartbeats-per-second'] ? ['--max-heartbeats-per-second', args['max-heartbeats-per-second']] : []);
  for (const name of ['m2', 'm3']) await cluster.join(name, 'manager');
  await cluster.waitUntilFormed(TIMEOUT_MS);
  const leader = await cluster.leader();
  const admin = cluster.client(leader);
  // Managers run no tasks of their own: every task goes to a simulated node.
  for (const m of cluster.managers) {
    const r = cluster.cli(leader.name, ['node', 'update', '--availability', 'drain', m.nodeId]);
    if (r.code !== 0) throw new Error(`drain ${m.name}: ${r.stderr}`);
  }

  // Simulated nodes: the ones to kill in a host of their own, the rest spread over HOSTS.
  const log = openSync(join(root, 'sim.log'), 'a');
  const rest = NODES - KILL;
  const list: SimHost[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const count = Math.floor(rest / HOSTS) + (i < rest % HOSTS ? 1 : 0);
    if (count > 0) list.push(new SimHost(`h${i}`, count, log));
  }
  const victim = KILL > 0 ? new SimHost('victim', KILL, log) : undefined;
  if (victim) list.push(victim);
  const joinStarted = performance.now();
  const joinPhase = args['joins-only'] ? new JoinPhase(cluster, admin) : undefined;
  joinPhase?.start();
  const joining = Promise.all(list.map((h, i) => h.start(leader.addr, cluster.workerToken, join(stateRoot, `h${i}`), args['cpu-prof'] ? profileDir : undefined)));
  const joinSeconds = joinPhase ? await joining.catch(async (err: unknown) => joinPhase.report(err, NODES)) : await joining;
  const joinedSeconds = (performance.now() - joinStarted) / 1000;
  const allReady = until(`${NODES} simulated nodes Ready`, TIMEOUT_MS, 500, async () => {
    // A leader change while the nodes join fails a read ("retry"): the next poll asks again.
    const listed = await admin.list('ListNodes', {}).catch(() => undefined);
    if (listed === undefined) return undefined;
    const nodes = listed.filter((n) => n.role !== baton.NodeRole.MANAGER && n.status?.state === baton.NodeState.NODE_READY);
    return nodes.length >= NODES ? nodes.length : undefined;
  });
  await (joinPhase ? allReady.catch(async (err: unknown) => joinPhase.report(err, NODES)) : allReady);
  const readySeconds = (performance.now() - joinStarted) / 1000;
  if (joinPhase) {
    console.log(`joined ${NODES} nodes in ${joinedSeconds.toFixed(1)} s (hosts: ${joinSeconds.map((s) => s.toFixed(1)).join(', ')}); all Ready at ${readySeconds.toFixed(1)} s`);
    await joinPhase.report(undefined, NODES);
  }
  if (simNiceFailed) console.log(`could not renice the simulated nodes' processes to ${SIM_NICE}: they compete with the managers`);
  console.log(`joined ${NODES} nodes in ${joinedSeconds.toFixed(1)} s (hosts: ${joinSeconds.map((s) => s.toFixed(1)).join(', ')}); all Ready at ${readySeconds.toFixed(1)} s`);

  // Converge.
  const gauges = new Gauges();
  await gauges.poll(list);
  gauges.reset();
  const sampler = new ProcessSampler(cluster.pids('manager'));
  sampler.start();
  const simSampler = new ProcessSampler(list.flatMap((h) => (h.child.pid === undefined ? [] : [h.child.pid])));
  simSampler.start();
  const leaders = new LeaderWatch(admin);
  await leaders.poll();
  const createStarted = performance.now();
  const downBefore = markedDown(cluster.managers.map((m) => m.logFile));
  const serviceIds: string[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const replicas = Math.min(MAX_REPLICAS, TASKS - i * MAX_REPLICAS);
    const s = await admin.control.call('CreateService', { spec: serviceSpec(`scale-${i}`, replicas), noResolveImage: true }, 60_000);
    serviceIds.push(s.meta?.id ?? '');
  }
  const createSeconds = (performance.now() - createStarted) / 1000;
  let lastPrint = 0;
  let lastRunning = 0;
  await until(`${TASKS} tasks Running`, TIMEOUT_MS, 250, async () => {
    const running = (lastRunning = await gauges.poll(list));
    await leaders.poll();
    const t = (performance.now() - createStarted) / 1000;
    if (t - lastPrint >= 5) {
      lastPrint = t;
      console.log(`  ${t.toFixed(1)} s: ${running} Running; leader RSS ${Math.round((memoryKiB(leader.proc.pid!)?.rss ?? 0) / 1024)} MiB; ${leaders.changes} leader changes`);
    }
    return running >= TASKS ? running : undefined;
  }).catch(async (err: unknown) => {
    // Not converged in time: what was reached is a result too (written, then the run fails).
    const perManager = sampler.stop();
    const perSimHost = [...simSampler.stop().values()];
    const simulatedNodesCpuCores = round(perSimHost.reduce((sum, h) => sum + h.cpuCores, 0), 2);
    // The managers' logs, read once for the JSON and the line below.
    const logFiles = cluster.managers.map((m) => m.logFile);
    const liveMarkedDown = markedDownSince(logFiles, downBefore);
    const returns = sessionReturns(logFiles);
    const path = writeRun(outDir, 'scale', started, machineInfo(), loadavg(), {
      nodes: NODES,
      tasks: TASKS,
      services: SERVICES,
      secondsToRunning: null,
      runningAtTimeout: lastRunning,
      simulatedNodesCpuCores,
      simulatedNodesCpuSeconds: round(perSimHost.reduce((sum, h) => sum + h.cpuSeconds, 0), 1),
      simulation: { store: SIM_STORE, heartbeats: SIM_HEARTBEATS, nice: simNiceFailed ? 0 : SIM_NICE },
      simLateness: gauges.lateness(),
      timeoutSeconds: TIMEOUT_MS / 1000,
      leaderChangesWhileConverging: leaders.changes,
      managers: cluster.managers.map((m) => ({ name: m.name, ...(perManager.get(m.proc.pid!) ?? {}) })),
      heartbeatP99Ms: pct(gauges.heartbeat, 99),
      heartbeatFailures: gauges.heartbeatFailures,
      heartbeatsPerSecond: round(gauges.heartbeat.length / ((performance.now() - createStarted) / 1000), 1),
      liveNodesMarkedDown: liveMarkedDown,
      sessionReturns: returns,
      pushP99Ms: pct(gauges.push, 99),
      join: { seconds: joinedSeconds, readySeconds, hosts: list.length },
      loadAverageAtStart: load0,
      published: PUBLISHED,
    });
    console.log(`not converged: ${lastRunning} of ${TASKS} Running after ${TIMEOUT_MS / 1000} s, ${leaders.changes} leader changes, ${liveMarkedDown} live nodes marked down; sessions reopened after an end: ${JSON.stringify(returns)}; partial results: ${path}`);
    if (args['cpu-prof']) await cluster.stop(stopGraceMs);
    throw err;
  });
  const secondsToRunning = (performance.now() - createStarted) / 1000;
  const perManager = sampler.stop();
  const perSimHost = [...simSampler.stop().values()];
  // After the CPU figures: writing a profile is work of its own.
  if (args['cpu-prof']) console.log(`simulated hosts' profiles (while converging): ${(await Promise.all(list.map((h) => h.profile()))).join(', ')}`);
  /** Where the machine's cores went while converging: the simulated nodes share them with the managers here. */
  const simulatedNodesCpuCores = round(perSimHost.reduce((sum, h) => sum + h.cpuCores, 0), 2);
  const simulatedNodesCpuSeconds = round(perSimHost.reduce((sum, h) => sum + h.cpuSeconds, 0), 1);
  /** The simulation's CPU per task placed (ms): join excluded, the churn of live nodes marked down included. */
  const simCpuMsPerTask = round((simulatedNodesCpuSeconds * 1000) / TASKS, 2);
  const simLateness = gauges.lateness();
  const leaderNow = await cluster.leader();
  const leaderFigures = perManager.get(leaderNow.proc.pid!) ?? { peakRssMiB: 0, cpuSeconds: 0, cpuCores: 0 };
  const cpu = { cpuCores: leaderFigures.cpuCores, cpuSeconds: leaderFigures.cpuSeconds };
  const managersFigures = cluster.managers.map((m) => ({ name: m.name, ...(perManager.get(m.proc.pid!) ?? {}) }));
  const converge = {
    heartbeatP50Ms: pct(gauges.heartbeat, 50),
    heartbeatP99Ms: pct(gauges.heartbeat, 99),
    heartbeatMaxMs: pct(gauges.heartbeat, 100),
    heartbeats: gauges.heartbeat.length,
    heartbeatsPerSecond: round(gauges.heartbeat.length / secondsToRunning, 1),
    heartbeatFailures: gauges.heartbeatFailures,
    liveNodesMarkedDown: markedDownSince(cluster.managers.map((m) => m.logFile), downBefore),
    sessionReturns: sessionReturns(cluster.managers.map((m) => m.logFile)),
    pushP50Ms: pct(gauges.push, 50),
    pushP99Ms: pct(gauges.push, 99),
    pushes: gauges.push.length,
  };
  const storeCheckStarted = performance.now();
  const inStore = await runningInStore(admin);
  const listAllTasksSeconds = (performance.now() - storeCheckStarted) / 1000;
  if (inStore.running < TASKS) throw new Error(`the nodes had ${TASKS} Running acknowledged, but the store lists ${inStore.running} Running`);
  const leaderRssMiB = leaderFigures.peakRssMiB;
  console.log(`all ${TASKS} Running in ${secondsToRunning.toFixed(1)} s (creates ${createSeconds.toFixed(1)} s); leader (${leaderNow.name}) peak RSS ${leaderRssMiB} MiB, CPU ${cpu.cpuCores} cores (followers ${managersFigures.filter((m) => m.name !== leaderNow.name).map((m) => m.cpuCores ?? '-').join(', ')}; simulated nodes ${simulatedNodesCpuCores}, ${simCpuMsPerTask} ms CPU per task); ${leaders.changes} leader changes; ${converge.liveNodesMarkedDown} live nodes marked down; heartbeat p99 ${converge.heartbeatP99Ms} ms, ${converge.heartbeatsPerSecond}/s; push p99 ${converge.pushP99Ms} ms; store lists ${inStore.running} Running (${listAllTasksSeconds.toFixed(1)} s)`);
  console.log(`simulated side: timers late p99 / max ${simLateness.nodesLoopP99Ms} / ${simLateness.nodesLoopMaxMs} ms (nodes' event loop), ${simLateness.heartbeatLoopP99Ms} / ${simLateness.heartbeatLoopMaxMs} ms (heartbeat thread; store ${SIM_STORE}, heartbeats ${SIM_HEARTBEATS})`);

  // A steady minute's worth is not needed: a few seconds of heartbeats with everything placed.
  gauges.reset();
  await sleep(3000);
  await gauges.poll(list);
  const steady = { heartbeatP99Ms: pct(gauges.heartbeat, 99), heartbeats: gauges.heartbeat.length, leaderRssMiB: Math.round((memoryKiB(leaderNow.proc.pid!)?.rss ?? 0) / 1024) };

  // The CLI as a user runs it.
  const serviceLs = await cliSeconds(leaderNow, ['service', 'ls']);
  const servicePs = await cliSeconds(leaderNow, ['service', 'ps', 'scale-0']);
  console.log(`service ls ${serviceLs.seconds} s (${serviceLs.lines} lines); service ps scale-0 ${servicePs.seconds} s (${servicePs.lines} lines)`);

  // Snapshot: the leader's newest file, and the time to decode and encode the same state here.
  const snap = snapshotOf(leaderNow);
  const snapshot = snap ? { bytes: snap.bytes, mib: round(snap.bytes / 2 ** 20, 1), ...encodeTime(snap.file) } : undefined;
  console.log(snapshot ? `snapshot ${snapshot.mib} MiB, encoded in ${snapshot.encodeMs} ms` : 'no snapshot taken yet');

  // A 4th manager joins: caught up when it answers a linearizable read.
  const joinM4 = performance.now();
  const joinM4Epoch = Date.now();
  const m4 = await cluster.join('m4', 'manager');
  const m4Client = cluster.client(m4);
  await until('the 4th manager to catch up', TIMEOUT_MS, 100, async () => {
    try {
      const services = await m4Client.list('ListServices', {});
      return services.length >= SERVICES ? services.length : undefined;
    } catch {
      return undefined;
    }
  });
  const catchUpSeconds = (performance.now() - joinM4) / 1000;
  const catchUpSnapshot = snapshotInstalled(m4.logFile, joinM4Epoch);
  console.log(`4th manager caught up in ${catchUpSeconds.toFixed(1)} s (${catchUpSnapshot ? `installed the leader's snapshot of index ${catchUpSnapshot.index} at ${catchUpSnapshot.seconds.toFixed(1)} s, then the entries after it` : 'no snapshot: the log replayed'})`);
  // Drained as the other three: left active, it would take the replacements of the lost nodes
  // (and run them as real processes), where the simulated nodes never count them Running.
  const drainM4 = cluster.cli(m4.name, ['node', 'update', '--availability', 'drain', m4.nodeId]);
  if (drainM4.code !== 0) throw new Error(`drain ${m4.name}: ${drainM4.stderr}`);

  // Node loss.
  let rescheduleSeconds: number | undefined;
  let nodeLoss: NodeLossBreakdown | undefined;
  if (victim) {
    // The killed host's node ids: the mark-downs after the kill are then told apart, lost or live.
    const victimIds = new Set(
      (await admin.list('ListNodes', {})).filter((n) => n.description?.hostname?.startsWith('sim-victim-')).map((n) => n.meta?.id ?? ''),
    );
    gauges.reset();
    const killed = performance.now();
    const killedAt = Date.now();
    // Asked nothing more from now on: a killed host answers no stats request.
    victim.alive = false;
    victim.child.kill('SIGKILL');
    await until(`the tasks of ${KILL} killed nodes Running elsewhere`, TIMEOUT_MS, 250, async () => {
      const running = await gauges.poll(list);
      return running >= TASKS ? running : undefined;
    });
    rescheduleSeconds = (performance.now() - killed) / 1000;
    console.log(`${KILL} nodes SIGKILLed: every task Running again in ${rescheduleSeconds.toFixed(1)} s`);
    nodeLoss = nodeLossBreakdown(killedAt, (await cluster.leader()).logFile, gauges, victimIds);
    console.log(`  after the kill (s; first / median / last): ${formatBreakdown(nodeLoss)}`);
  }

  const rows = [
    ['measure', 'baton (measured)', 'target'],
    ['nodes / tasks', `${NODES} / ${TASKS}`, '1,000 / 100,000'],
    ['all Running (s)', secondsToRunning.toFixed(1), '<= 30'],
    ['placements/s', (TASKS / secondsToRunning).toFixed(0), ''],
    ['leader peak RSS (MiB)', String(leaderRssMiB), '<= 1024'],
    ['leader CPU (cores)', String(cpu.cpuCores), ''],
    ['simulated nodes CPU (cores)', String(simulatedNodesCpuCores), ''],
    ['simulated nodes CPU per task (ms)', String(simCpuMsPerTask), ''],
    ['sim timers late p99 (ms)', `${simLateness.nodesLoopP99Ms} nodes / ${simLateness.heartbeatLoopP99Ms} heartbeats`, ''],
    ['leader changes', String(leaders.changes), '0'],
    ['heartbeat p99 (ms)', String(converge.heartbeatP99Ms), '<= 500'],
    ['heartbeats/s (all nodes)', String(converge.heartbeatsPerSecond), ''],
    ['live nodes marked down', String(converge.liveNodesMarkedDown), '0'],
    ['sessions reopened: count / p99 (ms)', `${converge.sessionReturns.count} / ${converge.sessionReturns.p99Ms ?? '-'}`, ''],
    ['push p99 (ms)', String(converge.pushP99Ms), ''],
    ['snapshot (MiB)', snapshot ? String(snapshot.mib) : '-', ''],
    ['4th manager catch-up (s)', catchUpSeconds.toFixed(1), '<= 10'],
    [`${KILL} nodes lost -> Running (s)`, rescheduleSeconds?.toFixed(1) ?? '-', '<= 10'],
    ['service ls (s)', String(serviceLs.seconds), '<= 1'],
    ['service ps 10k (s)', String(servicePs.seconds), '<= 1'],
  ];
  console.log(`\n${formatTable(rows)}`);
  console.log('\nPublished by the peers (not measured here):');
  for (const v of Object.values(PUBLISHED)) console.log(`  - ${v}`);
  const warning = busyMachineWarning();
  if (warning) console.log(warning);

  const path = writeRun(outDir, 'scale', started, machineInfo(), loadavg(), {
    nodes: NODES,
    tasks: TASKS,
    services: SERVICES,
    secondsToRunning,
    placementsPerSecond: TASKS / secondsToRunning,
    createSeconds,
    leaderRssMiB,
    leaderCpuCores: cpu.cpuCores,
    leaderCpuSeconds: cpu.cpuSeconds,
    simulatedNodesCpuCores,
    simulatedNodesCpuSeconds,
    simCpuMsPerTask,
    simLateness,
    simulation: { store: SIM_STORE, heartbeats: SIM_HEARTBEATS },
    leaderChangesWhileConverging: leaders.changes,
    managers: managersFigures,
    heartbeatP99Ms: converge.heartbeatP99Ms,
    converge,
    steady,
    listAllTasksSeconds,
    serviceLsSeconds: serviceLs.seconds,
    servicePsSeconds: servicePs.seconds,
    snapshot,
    catchUpSeconds,
    catchUpSnapshotInstalledSeconds: catchUpSnapshot?.seconds ?? null,
    rescheduleSeconds,
    nodeLoss,
    killedNodes: KILL,
    join: { seconds: joinedSeconds, readySeconds, hosts: list.length },
    executorDelayMs: EXECUTOR_DELAY_MS,
    simNice: simNiceFailed ? 0 : SIM_NICE,
    loadAverageAtStart: load0,
    published: PUBLISHED,
  });
  console.log(`results: ${path}`);
  killHosts();
  await cluster.stop(stopGraceMs);
}

/**
 * How many times the managers marked a node down for silence (dispatcher/heartbeats.ts logs
 * each), from their logs: with every simulated node alive until the kill, each one before it is
 * a live node taken for dead (its tasks replaced).
 */
/**
 * When a joining manager installed the leader's snapshot, from its log (RaftNode logs each install
 * with pino's epoch-ms time): seconds after `sinceEpochMs`, or undefined when it replayed the log.
 */
function snapshotInstalled(logFile: string, sinceEpochMs: number): { seconds: number; index: number } | undefined {
  const entry = readLog(logFile, 'installed a snapshot from the leader')[0];
  if (entry === undefined) return undefined;
  return { seconds: round((entry.time - sinceEpochMs) / 1000, 2), index: typeof entry.index === 'number' ? entry.index : 0 };
}

/**
 * The distinct nodes the managers' logs say were marked down: a node logged again (its mark-down
 * write failed and the next check found it again, or it came back and went silent again) is
 * one node, not one more.
 */
function markedDown(logFiles: string[]): Set<string> {
  return markDowns(logFiles).nodes;
}

/** How many nodes were marked down since `before` was read, and were not before. */
function markedDownSince(logFiles: string[], before: Set<string>): number {
  return [...markedDown(logFiles)].filter((id) => !before.has(id)).length;
}

/** Seconds after the kill at which the first, the median and the last of some events happened. */
interface Spread {
  count: number;
  first: number;
  median: number;
  last: number;
}

/**
 * Where the time from the kill to every task Running again went, step by step: the leader
 * marking the nodes down (its log), the orchestrator creating the replacements (their creation
 * time), the scheduler assigning them (the Assigned status's time), the nodes receiving them
 * (their sessions) and the leader acknowledging them Running. Every clock is this machine's.
 */
interface NodeLossBreakdown {
  markedDown: Spread & { writes: number };
  /**
   * The mark-downs of nodes that were not killed, by the rule that found them (dispatcher/
   * heartbeats.ts logs it): 'session ended' (the short allowance after a session's end) or
   * 'silence' (the period told plus the grace); with the time since their last heartbeat.
   */
  liveMarkedDown: { count: number; nodes: number; byRule: Record<string, number>; sinceHeartbeatMs: Spread };
  /** Heartbeat round trips after the kill (ms), and the simulated side's timer lateness then. */
  heartbeatP99Ms: number | undefined;
  heartbeatMaxMs: number | undefined;
  heartbeatFailures: number;
  simLateness: ReturnType<Gauges['lateness']>;
  created: Spread;
  assigned: Spread;
  received: Spread;
  lastRunningAcknowledged: number;
}

function spread(times: number[], since: number): Spread {
  const s = Float64Array.from(times.map((t) => (t - since) / 1000)).sort();
  const at = (i: number): number => round(s[Math.min(s.length - 1, Math.max(0, i))] ?? 0, 2);
  return { count: s.length, first: at(0), median: at(Math.floor(s.length / 2)), last: at(s.length - 1) };
}

function nodeLossBreakdown(killedAt: number, leaderLog: string, gauges: Gauges, victimIds: Set<string>): NodeLossBreakdown {
  // The leader logs each node it marks down; the nodes found in one check go in one write, and
  // share that check's time.
  const downTimes: number[] = [];
  const byRule: Record<string, number> = {};
  const liveSince: number[] = [];
  // A count of log lines says more than the nodes lost: a node marked down again (a mark-down
  // write that failed, or a node back Ready and silent again) is one more line.
  const liveNodes = new Set<string>();
  // No log: the step shows as 0 events.
  for (const entry of readLog(leaderLog, 'node missed its heartbeats: marking it down')) {
    if (entry.time < killedAt) continue;
    downTimes.push(entry.time);
    const node = typeof entry.node === 'string' ? entry.node : '';
    if (victimIds.has(node)) continue;
    liveNodes.add(node);
    const rule = typeof entry.rule === 'string' ? entry.rule : 'unknown';
    byRule[rule] = (byRule[rule] ?? 0) + 1;
    if (typeof entry.sinceHeartbeatMs === 'number') liveSince.push(killedAt + entry.sinceHeartbeatMs);
  }
  const replacements = gauges.arrivals.filter((a) => a.createdAt >= killedAt);
  return {
    markedDown: { ...spread(downTimes, killedAt), writes: new Set(downTimes).size },
    // spread() counts seconds since its second argument: here each value is killedAt + ms.
    liveMarkedDown: { count: Object.values(byRule).reduce((a, b) => a + b, 0), nodes: liveNodes.size, byRule, sinceHeartbeatMs: spread(liveSince, killedAt) },
    heartbeatP99Ms: pct(gauges.heartbeat, 99),
    heartbeatMaxMs: pct(gauges.heartbeat, 100),
    heartbeatFailures: gauges.heartbeatFailures,
    simLateness: gauges.lateness(),
    created: spread(replacements.map((a) => a.createdAt), killedAt),
    assigned: spread(replacements.map((a) => a.assignedAt), killedAt),
    received: spread(replacements.map((a) => a.receivedAt), killedAt),
    lastRunningAcknowledged: round((gauges.lastRunningAckAt - killedAt) / 1000, 2),
  };
}

function formatBreakdown(b: NodeLossBreakdown): string {
  const f = (s: Spread): string => `${s.first} / ${s.median} / ${s.last}`;
  return [
    `${b.markedDown.count} nodes marked down ${f(b.markedDown)} (${b.markedDown.writes} checks; live ones ${b.liveMarkedDown.count} times, ${b.liveMarkedDown.nodes} nodes: ${JSON.stringify(b.liveMarkedDown.byRule)})`,
    `heartbeat p99 / max ${b.heartbeatP99Ms} / ${b.heartbeatMaxMs} ms, ${b.heartbeatFailures} failed`,
    `${b.created.count} replacements created ${f(b.created)}`,
    `assigned ${f(b.assigned)}`,
    `received ${f(b.received)}`,
    `last Running acknowledged ${b.lastRunningAcknowledged}`,
  ].join('; ');
}

/**
 * The leader's snapshot file decoded (header, raft record) and its store restored, then encoded
 * again as the leader does to take one (synchronously, on its event loop): how long that takes.
 */
function encodeTime(file: string): { encodeMs?: number; restoreMs?: number; objects?: number } {
  const payload = readFileSync(file).subarray(8); // 'BSNP' and the crc32c (raft/storage/snapshot-files.ts)
  const snap = decodeSnapshot(payload);
  const store = new ClusterStore();
  const r0 = performance.now();
  store.restore(snap.data);
  const restoreMs = performance.now() - r0;
  const e0 = performance.now();
  store.snapshot();
  return { encodeMs: round(performance.now() - e0, 1), restoreMs: round(restoreMs, 1), objects: store.list('task').length };
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench:scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    killHosts();
    process.exit();
  });
