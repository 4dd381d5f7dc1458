// node dist/bench/leader-memory.js [--tasks 100000] [--nodes 1000] [--turns 2] [--base DIR]
//   [--heap-snapshot DIR] [--out DIR]
// The leader's memory per task (issue 17: RSS <= 1 GiB at 100,000 tasks), in-process and without
// the noise of 1,000 simulated nodes: a real RaftNode (one voter, its LevelDB log in a temp dir)
// with the real ClusterStore as its state machine, fed the writes a leader makes for --tasks
// tasks in services of 10,000 replicas on --nodes nodes, through the same code as the leader's
// loops: the orchestrator's creates (newTask, batches of 200), the scheduler's assignments
// (TaskWrites, batches of 200), then each node's Preparing, Starting and Running reports as the
// dispatcher writes them (group commits of at most 2,000 updates). It then prints the heap used
// after a full GC and the RSS, and what the Raft log holds in memory (entries and their bytes);
// the CPU for the writes, the GC meanwhile (total, longest pause) and the longest event-loop
// block; the store snapshot's size, the CPU to encode it and to restore it in a new store.
//
// Each figure comes from a child process of its own (a fresh heap); with --base DIR (another
// built checkout's root, e.g. main's) the same child runs that build's raft/ and manager/store/,
// alternating with ours, turn by turn. --heap-snapshot DIR writes each child's heap snapshot
// there once measured (to attribute the retained size; a 100,000-task snapshot is ~1 GB).
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { pino } from 'pino';
import { baton } from '../proto/gen/baton.js';
import { nodeObject } from '../test/lib/local-cluster.js';
import { waitFor } from '../test/lib/wait.js';
import { baseDist, count, projectRoot } from './lib/args.js';
import { busyMachineWarning, formatTable, machineInfo, ratio, writeRun } from './lib/results.js';
import { median } from './lib/stats.js';

type RaftModule = typeof import('../raft/index.js');
type StoreModule = typeof import('../manager/store/index.js');
type TasksModule = typeof import('../manager/reconcile/tasks.js');
type WritesModule = typeof import('../manager/reconcile/writes.js');

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string' },
    nodes: { type: 'string' },
    turns: { type: 'string' },
    base: { type: 'string' },
    'heap-snapshot': { type: 'string' },
    out: { type: 'string' },
    child: { type: 'string' },
  },
});

const TASKS = count(args.tasks, 100_000);
const NODES = count(args.nodes, 1_000);
const TURNS = count(args.turns, 2);
/** The spec's limit, as bench:scale makes its services. */
const REPLICAS_PER_SERVICE = 10_000;
/** The reconcile loops' default maxBatch. */
const LOOP_BATCH = 200;
/** dispatcher/sessions.ts: MAX_STATUS_UPDATES_PER_WRITE. */
const STATUS_BATCH = 2_000;
const MiB = 1024 * 1024;
const S = baton.TaskState;

interface Figures {
  heapUsedMiB: number;
  heapTotalMiB: number;
  rssMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  /** Raft entries the node holds in memory at the end, and the bytes of their data. */
  logEntries: number;
  logMiB: number;
  snapshotsTaken: number;
  /** The store's snapshot at the end: its size, and the CPU to encode it in one piece. */
  storeSnapshotMiB: number;
  storeSnapshotCpuMs: number;
  /** CPU for a new store to restore that snapshot (what a joining or lagging manager installs). */
  restoreCpuMs: number;
  /** Garbage collection while the writes were applied: total, and the longest single pause. */
  gcMs: number;
  gcLongestMs: number;
  /** The longest the event loop was held while the writes were applied (10 ms resolution). */
  longestBlockMs: number;
  writes: number;
  seconds: number;
  cpuSeconds: number;
  heapSnapshot?: string;
}

/**
 * A service as `baton service create` stores one with a few options: an image by digest, a
 * command, some environment, labels, limits, a restart and an update policy.
 */
function serviceObject(id: string, name: string, replicas: number): baton.Service.$Properties {
  return {
    meta: { id, createdAt: Date.now(), updatedAt: Date.now() },
    spec: {
      annotations: { name, labels: { 'com.example.team': 'payments', 'com.example.tier': 'backend' } },
      replicas,
      task: {
        runtime: 'process',
        container: {
          image: 'registry.example.com/payments/api:1.42.0@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
          command: ['sleep', '1000000'],
          env: ['LOG_LEVEL=info', 'PORT=8080', 'DB_HOST=db.internal', 'CACHE_TTL=60s'],
          labels: { 'com.example.version': '1.42.0' },
        },
        resources: { limits: { nanoCpus: 250_000_000, memoryBytes: 256 * MiB }, reservations: { nanoCpus: 10_000_000, memoryBytes: 16 * MiB } },
        restart: { condition: baton.RestartCondition.RESTART_ANY, delayMs: 5_000 },
      },
      update: { parallelism: 1, monitorMs: 5_000 },
    },
    endpoint: {},
  };
}

/** The child: one build's Raft node and store, the writes of TASKS tasks, then the figures. */
async function child(root: string, heapDir: string | undefined): Promise<Figures> {
  const raft = (await import(join(root, 'raft/index.js'))) as RaftModule;
  const store = (await import(join(root, 'manager/store/index.js'))) as StoreModule;
  const tasks = (await import(join(root, 'manager/reconcile/tasks.js'))) as TasksModule;
  const writes = (await import(join(root, 'manager/reconcile/writes.js'))) as WritesModule;
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'baton-leader-memory-'));
  const cluster = new store.ClusterStore();
  const node = await raft.RaftNode.start({
    id: 'm1',
    dataDir: dir,
    listen: '127.0.0.1:0',
    peers: {},
    bootstrap: ['m1'],
    stateMachine: cluster,
    logger: pino({ level: 'silent' }),
    proposalTimeoutMs: 120_000,
  });
  let gcMs = 0;
  let gcLongestMs = 0;
  const gcWatch = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcLongestMs = Math.max(gcLongestMs, e.duration);
    }
  });
  gcWatch.observe({ entryTypes: ['gc'] });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  let writeCount = 0;
  const propose = async (actions: baton.internal.StoreAction.$Properties[]): Promise<void> => {
    if (actions.length === 0) return;
    const r = await node.propose(store.encodeBatch(actions));
    if (!r.ok) throw new Error(`write refused: ${r.error.message}`);
    writeCount++;
  };
  try {
    await waitFor('the one voter to lead', () => node.status().role === 'leader', { timeoutMs: 30_000, intervalMs: 50 });
    const nodeIds = Array.from({ length: NODES }, (_, i) => `node${String(i).padStart(5, '0')}`);
    for (let i = 0; i < nodeIds.length; i += LOOP_BATCH) {
      await propose(nodeIds.slice(i, i + LOOP_BATCH).map((id) => store.createAction('node', { ...nodeObject(id), meta: { id, createdAt: Date.now() } })));
    }
    const services = Math.ceil(TASKS / REPLICAS_PER_SERVICE);
    let next = 0;
    for (let s = 0; s < services; s++) {
      const replicas = Math.min(REPLICAS_PER_SERVICE, TASKS - s * REPLICAS_PER_SERVICE);
      const id = `service${s}`;
      await propose([store.createAction('service', serviceObject(id, `scale-${s}`, replicas))]);
      const service = cluster.get('service', id)!;
      // The replicated orchestrator's creates.
      for (let slot = 1; slot <= replicas; slot += LOOP_BATCH) {
        const w = new writes.TaskWrites(Date.now());
        for (let k = slot; k < Math.min(slot + LOOP_BATCH, replicas + 1); k++) w.create(tasks.newTask({ service, slot: k, nodeId: '', labels: {}, now: Date.now() }));
        await propose(w.actions());
      }
      // The scheduler's assignments, spread round-robin over the nodes.
      const pending = cluster.scan('task', { serviceIds: [id] });
      for (let i = 0; i < pending.length; i += LOOP_BATCH) {
        const w = new writes.TaskWrites(Date.now());
        for (const t of pending.slice(i, i + LOOP_BATCH)) {
          const nodeId = nodeIds[next++ % nodeIds.length]!;
          w.update(t, (copy) => {
            copy.nodeId = nodeId;
            copy.status = { ...copy.status, state: S.TASK_ASSIGNED, message: 'assigned to node', timestamp: Date.now() };
          });
        }
        await propose(w.actions());
      }
    }
    // Each node's reports, as the dispatcher writes them: the stored task with the new status.
    for (const state of [S.TASK_PREPARING, S.TASK_STARTING, S.TASK_RUNNING]) {
      let batch: baton.internal.StoreAction.$Properties[] = [];
      for (const nodeId of nodeIds) {
        for (const t of cluster.scan('task', { nodeIds: [nodeId] })) {
          batch.push(store.updateAction('task', { ...(t as baton.Task), status: { ...t.status, state, message: '', timestamp: Date.now() } }));
        }
        if (batch.length >= STATUS_BATCH - 100) {
          await propose(batch);
          batch = [];
        }
      }
      await propose(batch);
    }
    const running = cluster.scan('task').filter((t) => t.status?.state === S.TASK_RUNNING).length;
    if (running !== TASKS) throw new Error(`${running} of ${TASKS} tasks Running at the end`);
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    loopDelay.disable();
    // The observer's last entries come in a later turn: take them before it stops.
    await new Promise((r) => setImmediate(r));
    gcWatch.disconnect();
    // What stays: collect everything else first (twice: weak callbacks, then what they freed).
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error('run the child with --expose-gc');
    gc();
    gc();
    const mem = process.memoryUsage();
    const log = logHeld(node);
    const encodeStart = process.cpuUsage();
    const storeSnapshot = cluster.snapshot();
    const encodeCpu = process.cpuUsage(encodeStart);
    const restoreStart = process.cpuUsage();
    new store.ClusterStore().restore(storeSnapshot);
    const restoreCpu = process.cpuUsage(restoreStart);
    const figures: Figures = {
      heapUsedMiB: mem.heapUsed / MiB,
      heapTotalMiB: mem.heapTotal / MiB,
      rssMiB: mem.rss / MiB,
      externalMiB: mem.external / MiB,
      arrayBuffersMiB: mem.arrayBuffers / MiB,
      logEntries: log.entries,
      logMiB: log.bytes / MiB,
      snapshotsTaken: node.stats().snapshotsTaken,
      storeSnapshotMiB: storeSnapshot.byteLength / MiB,
      storeSnapshotCpuMs: (encodeCpu.user + encodeCpu.system) / 1000,
      restoreCpuMs: (restoreCpu.user + restoreCpu.system) / 1000,
      gcMs,
      gcLongestMs,
      longestBlockMs: loopDelay.max / 1e6,
      writes: writeCount,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    if (heapDir !== undefined) figures.heapSnapshot = writeHeapSnapshot(join(heapDir, `leader-memory-${process.pid}.heapsnapshot`));
    return figures;
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The entries the core's log holds, and their bytes, read through the node's private fields: the
 * library has no reason to expose them, and this is the one place that asks.
 */
function logHeld(node: object): { entries: number; bytes: number } {
  const log = (node as { core?: { log?: { entries?: { data: Uint8Array }[] } } }).core?.log;
  const entries = log?.entries ?? [];
  return { entries: entries.length, bytes: entries.reduce((sum, e) => sum + e.data.byteLength, 0) };
}

function runChild(root: string): Promise<Figures> {
  return new Promise((ok, fail) => {
    const script = fileURLToPath(import.meta.url);
    const argv = ['--child', root, '--tasks', String(TASKS), '--nodes', String(NODES), ...(args['heap-snapshot'] ? ['--heap-snapshot', resolve(args['heap-snapshot'])] : [])];
    const p = fork(script, argv, { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let figures: Figures | undefined;
    p.on('message', (m) => (figures = m as Figures));
    p.on('error', fail);
    p.on('exit', (code) => (code === 0 && figures ? ok(figures) : fail(new Error(`leader-memory child for ${root} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  const fmt = (v: number): string => v.toFixed(0);
  console.log(`bench leader-memory: ${TASKS} tasks on ${NODES} nodes, ${TURNS} turns${args.base ? `, base ${args.base}` : ''}; load ${load0.map((v) => v.toFixed(2)).join(' ')}`);
  const ours = projectRoot.endsWith('dist') ? projectRoot : join(projectRoot, 'dist');
  const runs: { base: Figures[]; branch: Figures[] } = { base: [], branch: [] };
  for (let t = 0; t < TURNS; t++) {
    if (args.base) {
      const b = await runChild(baseDist(args.base));
      runs.base.push(b);
      console.log(`  turn ${t + 1} base:   heap ${fmt(b.heapUsedMiB)} MiB, RSS ${fmt(b.rssMiB)} MiB, Raft log ${b.logEntries} entries ${fmt(b.logMiB)} MiB, ${b.writes} writes in ${b.seconds.toFixed(1)} s (${b.cpuSeconds.toFixed(1)} s CPU)`);
    }
    const o = await runChild(ours);
    runs.branch.push(o);
    console.log(`  turn ${t + 1} branch: heap ${fmt(o.heapUsedMiB)} MiB, RSS ${fmt(o.rssMiB)} MiB, Raft log ${o.logEntries} entries ${fmt(o.logMiB)} MiB, ${o.writes} writes in ${o.seconds.toFixed(1)} s (${o.cpuSeconds.toFixed(1)} s CPU)`);
  }
  const m = (xs: Figures[], f: (x: Figures) => number): number | undefined => (xs.length > 0 ? median(xs.map(f)) : undefined);
  const show = (v: number | undefined, digits = 0): string => (v === undefined ? '-' : v.toFixed(digits));
  const spread = (xs: Figures[], f: (x: Figures) => number): string => (xs.length > 0 ? `${Math.min(...xs.map(f)).toFixed(0)}–${Math.max(...xs.map(f)).toFixed(0)}` : '-');
  const row = (label: string, f: (x: Figures) => number, digits = 0): string[] => [
    label,
    show(m(runs.base, f), digits),
    show(m(runs.branch, f), digits),
    ratio(m(runs.branch, f), m(runs.base, f)),
    spread(runs.base, f),
    spread(runs.branch, f),
  ];
  console.log(
    formatTable([
      [`leader at ${TASKS} tasks (median of turns)`, 'base', 'this branch', 'branch/base', 'spread base', 'spread branch'],
      row('heap used after GC (MiB)', (x) => x.heapUsedMiB),
      row('RSS (MiB)', (x) => x.rssMiB),
      row('heap committed (MiB)', (x) => x.heapTotalMiB),
      row('external (MiB)', (x) => x.externalMiB),
      row('Raft log held in memory (MiB)', (x) => x.logMiB),
      row('snapshots taken', (x) => x.snapshotsTaken),
      row('store snapshot (MiB)', (x) => x.storeSnapshotMiB),
      row('CPU to encode it in one piece (ms)', (x) => x.storeSnapshotCpuMs),
      row('CPU to restore it in a new store (ms)', (x) => x.restoreCpuMs),
      row('GC during the writes (ms)', (x) => x.gcMs),
      row('longest GC pause (ms)', (x) => x.gcLongestMs),
      row('longest event-loop block (ms)', (x) => x.longestBlockMs),
      row('heap bytes per task (KiB)', (x) => (x.heapUsedMiB * 1024) / TASKS, 2),
      row('CPU for the writes (s)', (x) => x.cpuSeconds, 1),
    ]),
  );
  const load1 = loadavg();
  console.log(`load average: start ${load0.map((v) => v.toFixed(2)).join(' ')}, end ${load1.map((v) => v.toFixed(2)).join(' ')}`);
  const warning = busyMachineWarning();
  if (warning) console.log(warning);
  const path = writeRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'leader-memory', started, machineInfo(), load1, {
    tasks: TASKS,
    nodes: NODES,
    turns: TURNS,
    base: args.base,
    runs,
  });
  console.log(`results: ${path}`);
}

if (args.child !== undefined) {
  child(args.child, args['heap-snapshot']).then(
    (f) => process.send?.(f, () => process.exit(0)),
    (err: unknown) => {
      console.error(`leader-memory child: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
} else {
  main().catch((err: unknown) => {
    console.error(`bench leader-memory: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
