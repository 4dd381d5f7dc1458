// node dist/bench/catch-up.js --raft-dir DIR — how long a joining manager takes to catch up with
// a store of real size, in one process: the Raft log of a manager from a kept bench:scale run
// (`npm run bench:scale -- --keep …`, then <temp>/m1/raft; the entries are read, not written
// to) is proposed again, in order, to a one-voter RaftNode whose state machine is the manager's
// own store (manager/store, LevelDB under a temp dir, the gRPC transport on 127.0.0.1). Then a
// second RaftNode with an empty store starts and is added as a voter, as `baton join` adds a
// manager, and the time is taken until it answers a linearizable read (a read barrier) with
// every task of the leader. It prints whether it installed a snapshot, how many entries it
// applied one by one, and the process's CPU in that time (both nodes: the leader's sending
// included). What bench:scale's catch-up adds to this is the new process's start and the join.
// The target is issue 17's (<= 10 s at 100,000 tasks); no peer runs here. Flags: --raft-dir DIR,
// --keep, --out DIR. Writes bench/results/catch-up-latest.json.
//
// It says where the catch-up's time goes: the snapshot's size and chunks (sent, sent again,
// received), then from the new member's start: added to the configuration, first chunk
// received, last chunk received, the snapshot restored into the store (its decode), the entries
// after it applied (the tail), the read answered.
//
// No kept log of the size wanted? `--make-log DIR --tasks N [--nodes M]` writes one: a one-voter
// Raft log over the manager's store shaped as bench:scale makes it (services of 10,000
// replicas, each task created pending by the orchestrator's own newTask, then assigned, then
// Preparing, Starting, Running as the nodes report: five versions per task, 200 tasks per entry
// as the group commit batches them; ~850 bytes of log per task, as the lead's 100,000-task run
// had), never compacted. Then `--raft-dir DIR` as for a kept run; main's build of this bench
// takes the same DIR, for A/B.
//
// `--store-only --raft-dir DIR [--tail 271] [--turns 3] [--base DIR]`: the store's part alone,
// in one process, no Raft: the log's entries but the last --tail applied to a store, its
// snapshot taken, then each turn restores a new store from it and applies the tail, CPU timed
// for each; with --base (another build's root, e.g. main's from `git archive`) its store takes
// a turn beside this build's, alternating, and both must end in the same snapshot bytes.
//
// `--process --tasks N`: the real path, as bench:scale's 4th manager takes it, without the
// simulated nodes. `baton init` (tasks under a constraint no node meets: they stay pending, so they are smaller than
// bench:scale's Running ones), services of 10,000 replicas up to N tasks, the leader's snapshot
// taken, then `baton join` of a 2nd manager, timed from the command to: its first log line
// (the process started and the join RPC answered, certificate included), Raft's first role
// (it is a member and heard from the leader), the snapshot installed (its log line, with the
// restore's own time), and ListServices on it answering with every service (bench:scale's
// criterion). What is left between the first role and the install, the restore taken out, is
// the leader's sending, the receiving and the durable write; the write alone is then timed
// here on the leader's snapshot file. `--snapshot-interval N` is passed to `baton init`: below
// ~50,000 tasks the log is too small for the snapshot by size. Writes
// bench/results/catch-up-process-latest.json.
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { baton } from '../proto/gen/baton.js';
import { newTask } from '../manager/reconcile/tasks.js';
import { ClusterStore, cloneObject, createAction, encodeBatch, newObjectId, updateAction, type ApplyResult, type StoreActionT, type Stored } from '../manager/store/index.js';
import { nodeObject } from '../test/lib/local-cluster.js';
import { ConfChangeType, EntryType, RaftNode, type Entry } from '../raft/index.js';
import { RaftStorage } from '../raft/storage/index.js';
import { decodeSnapshot } from '../raft/storage/records.js';
import { writeSnapshotFile } from '../raft/storage/snapshot-files.js';
import { BatonDaemonCluster } from './lib/baton-daemons.js';
import { waitFor } from '../src/launcher/wait.js';
import { baseDist, count, projectRoot } from './lib/args.js';
import { installCleanupHandlers, keepTempDirs, makeTempDir } from './lib/proc.js';
import { readLog } from './lib/pino-log.js';
import { busyMachineWarning, machineInfo, writeRun } from './lib/results.js';
import { median, round } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    'raft-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    'make-log': { type: 'string' },
    tasks: { type: 'string' },
    nodes: { type: 'string' },
    'store-only': { type: 'boolean', default: false },
    tail: { type: 'string' },
    turns: { type: 'string' },
    base: { type: 'string' },
    process: { type: 'boolean', default: false },
    'snapshot-interval': { type: 'string' },
  },
});

/** Proposals in flight while the log is rebuilt (the order is kept: Raft appends in call order). */
const IN_FLIGHT = 32;
/** --make-log: tasks per entry (the manager's group commit writes passes of 200), replicas per service (the spec's limit). */
const TASKS_PER_ENTRY = 200;
const REPLICAS_PER_SERVICE = 10_000;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Proposes `batches` (each one entry) IN_FLIGHT at a time; throws on the first the store refuses. */
async function proposeAll(node: RaftNode<ApplyResult>, batches: StoreActionT[][]): Promise<void> {
  for (let i = 0; i < batches.length; i += IN_FLIGHT) {
    const results = await Promise.all(batches.slice(i, i + IN_FLIGHT).map((b) => node.propose(encodeBatch(b))));
    const refused = results.find((r) => !r.ok);
    if (refused && !refused.ok) throw new Error(`--make-log: the store refused a batch: ${refused.error.message}`);
  }
}

/** --make-log DIR: a never-compacted one-voter log of --tasks tasks on --nodes nodes (see the header). */
async function makeLog(dir: string, taskCount: number, nodeCount: number): Promise<void> {
  const store = new ClusterStore();
  const logger = pino({ level: 'silent' });
  const node = await RaftNode.start<ApplyResult>({ id: 'm1', dataDir: resolve(dir), listen: '127.0.0.1:0', peers: {}, bootstrap: ['m1'], stateMachine: store, logger, tickMs: 100, electionTicks: 50, snapshotEntries: Infinity, snapshotBytes: Infinity });
  await waitFor('the leader', () => node.status().role === 'leader', { timeoutMs: 30_000 });
  const t0 = performance.now();
  const nodeIds = Array.from({ length: nodeCount }, (_, i) => `node-${String(i).padStart(5, '0')}`);
  await proposeAll(node, [nodeIds.map((id) => createAction('node', nodeObject(id)))]);
  const services: Stored<'service'>[] = [];
  for (let i = 0; i * REPLICAS_PER_SERVICE < taskCount; i++) {
    const id = newObjectId();
    const replicas = Math.min(REPLICAS_PER_SERVICE, taskCount - i * REPLICAS_PER_SERVICE);
    const spec = { annotations: { name: `scale-${i}` }, replicas, task: { runtime: 'process', container: { image: 'scale-sim', command: ['sleep', '1000000'] } } };
    await proposeAll(node, [[createAction('service', { meta: { id }, spec })]]);
    services.push(store.get('service', id)!);
  }
  const S = baton.TaskState;
  // Each group of tasks goes through its five versions before the next group starts.
  const group = TASKS_PER_ENTRY * IN_FLIGHT;
  for (let first = 0; first < taskCount; first += group) {
    const now = Date.now();
    const made = Array.from({ length: Math.min(group, taskCount - first) }, (_, k) => {
      const n = first + k;
      return newTask({ service: services[Math.floor(n / REPLICAS_PER_SERVICE)]!, slot: (n % REPLICAS_PER_SERVICE) + 1, nodeId: '', labels: {}, now });
    });
    const ids = made.map((t) => t.meta!.id!);
    const inEntries = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / TASKS_PER_ENTRY) }, (_, i) => items.slice(i * TASKS_PER_ENTRY, (i + 1) * TASKS_PER_ENTRY));
    await proposeAll(node, inEntries(made.map((t) => createAction('task', cloneObject('task', t)))));
    const steps: ((t: baton.Task.$Properties, i: number) => void)[] = [
      (t, i) => {
        t.nodeId = nodeIds[(first + i) % nodeCount]!;
        t.status = { state: S.TASK_ASSIGNED, message: 'assigned to node', timestamp: Date.now() };
      },
      (t) => (t.status = { state: S.TASK_PREPARING, message: 'preparing', timestamp: Date.now() }),
      (t) => (t.status = { state: S.TASK_STARTING, message: 'starting', timestamp: Date.now() }),
      (t, i) => (t.status = { state: S.TASK_RUNNING, message: 'started', timestamp: Date.now(), containerId: `scale-sim-${first + i}` }),
    ];
    for (const step of steps) {
      const updates = ids.map((id, i) => {
        const t = cloneObject('task', store.get('task', id)!);
        step(t, i);
        return updateAction('task', t);
      });
      await proposeAll(node, inEntries(updates));
    }
  }
  const { lastIndex } = node.status();
  await node.stop();
  console.log(`catch-up --make-log: ${store.count('task')} tasks on ${nodeCount} nodes in ${services.length} services, ${lastIndex} entries, written in ${((performance.now() - t0) / 1000).toFixed(1)} s to ${dir}`);
}

/** What --store-only needs of a build's store module (this build's, or --base's, loaded by path). */
interface StoreModule {
  ClusterStore: new () => { restore(d: Uint8Array): void; apply(e: Entry): unknown; snapshot(): Uint8Array; count(k: 'task'): number };
}

/** --store-only: restore and tail apply of the store alone, this build against --base (see the header). */
async function storeOnly(raftDir: string): Promise<void> {
  const started = new Date();
  const root = makeTempDir('baton-catch-up-store');
  cpSync(resolve(raftDir), join(root, 'source'), { recursive: true });
  const source = await RaftStorage.open(join(root, 'source'));
  const entries = source.load().entries.filter((e) => e.type === EntryType.ENTRY_NORMAL && e.data.length > 0);
  await source.close();
  const tailCount = count(args.tail, 271, 0);
  const turns = count(args.turns, 3);
  const head = entries.slice(0, entries.length - tailCount);
  const tail = entries.slice(entries.length - tailCount);
  const leader = new ClusterStore();
  for (const e of head) leader.apply(e);
  const snap = leader.snapshot();
  for (const e of tail) leader.apply(e);
  const want = leader.snapshot();
  const builds: { name: string; mod: StoreModule }[] = [{ name: 'this build', mod: { ClusterStore } }];
  if (args.base) builds.unshift({ name: 'base', mod: (await import(pathToFileURL(join(baseDist(args.base), 'manager/store/index.js')).href)) as StoreModule });
  const gc = (globalThis as { gc?: () => void }).gc;
  console.log(`catch-up --store-only: snapshot of ${head.length} entries (${(snap.length / 2 ** 20).toFixed(1)} MiB, ${leader.count('task')} tasks), then ${tail.length} entries (${(tail.reduce((n, e) => n + e.data.length, 0) / 2 ** 20).toFixed(1)} MiB); ${turns} turns${gc ? '' : ' (run with --expose-gc to collect between turns)'}; load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  const figures = new Map<string, { restore: number[]; tail: number[] }>(builds.map((b) => [b.name, { restore: [], tail: [] }]));
  for (let t = 0; t < turns; t++) {
    for (const b of builds) {
      gc?.();
      const store = new b.mod.ClusterStore();
      const c0 = cpuMs();
      store.restore(snap);
      const c1 = cpuMs();
      for (const e of tail) store.apply(e);
      const c2 = cpuMs();
      if (Buffer.compare(store.snapshot(), want) !== 0) throw new Error(`--store-only: ${b.name}'s store differs from the leader's after the tail`);
      figures.get(b.name)!.restore.push((c1 - c0) / 1000);
      figures.get(b.name)!.tail.push((c2 - c1) / 1000);
      console.log(`  turn ${t + 1} ${b.name}: restore ${((c1 - c0) / 1000).toFixed(2)} s CPU, tail ${((c2 - c1) / 1000).toFixed(2)} s CPU; load ${loadavg()[0]!.toFixed(1)}`);
    }
  }
  const med = Object.fromEntries([...figures].map(([k, v]) => [k, { restore: round(median(v.restore), 3), tail: round(median(v.tail), 3) }]));
  const mine = med['this build']!;
  const base = med.base;
  if (base) console.log(`  median CPU: restore ${base.restore} -> ${mine.restore} s (x${(mine.restore / base.restore).toFixed(2)}), tail ${base.tail} -> ${mine.tail} s (x${(mine.tail / base.tail).toFixed(2)})`);
  else console.log(`  median CPU: restore ${mine.restore} s, tail ${mine.tail} s`);
  const warning = busyMachineWarning();
  if (warning) console.log(warning);
  const path = writeRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'catch-up-store', started, machineInfo(), loadavg(), {
    entries: entries.length,
    tailEntries: tail.length,
    snapshotMiB: round(snap.length / 2 ** 20, 1),
    tasks: leader.count('task'),
    base: args.base ?? null,
    cpuSeconds: Object.fromEntries([...figures]),
    medianCpuSeconds: med,
  });
  console.log(`results: ${path}`);
}

/** The newest snapshot file under a manager's data dir (raft/snap/), if any. */
function newestSnapshotFile(dataDir: string): { path: string; bytes: number; index: number } | undefined {
  const dir = join(dataDir, 'raft', 'snap');
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(n));
  } catch {
    return undefined;
  }
  const newest = names.sort().at(-1);
  if (newest === undefined) return undefined;
  const path = join(dir, newest);
  return { path, bytes: statSync(path).size, index: parseInt(newest.slice(0, 16), 16) };
}

/** --process: the real path of a manager joining with `baton join` (see the header). */
async function processPath(taskCount: number): Promise<void> {
  installCleanupHandlers();
  keepTempDirs(args.keep);
  const started = new Date();
  const root = makeTempDir('baton-catch-up-process');
  // The managers' election timeout as bench:scale runs them: a loaded machine must not turn the
  // measurement into an election.
  const cluster = new BatonDaemonCluster(root, { batonArgs: ['--election-timeout', '5s'] });
  try {
    const interval = args['snapshot-interval'];
    const m1 = await cluster.init('m1', interval ? ['--snapshot-interval', String(count(interval, 10_000))] : []);
    const drain = cluster.cli('m1', ['node', 'update', '--availability', 'drain', m1.nodeId]);
    if (drain.code !== 0) throw new Error(`drain m1: ${drain.stderr}`);
    const admin = cluster.client(m1);
    const services = Math.ceil(taskCount / REPLICAS_PER_SERVICE);
    const fill0 = performance.now();
    for (let i = 0; i < services; i++) {
      const replicas = Math.min(REPLICAS_PER_SERVICE, taskCount - i * REPLICAS_PER_SERVICE);
      // A constraint no node meets: the tasks stay pending, and the joining manager (not drained
      // yet when it starts) does not start thousands of processes while it is measured.
      const placement = { constraints: ['node.labels.baton-catch-up==nowhere'] };
      const spec = { annotations: { name: `scale-${i}` }, replicas, task: { runtime: 'process', container: { image: 'scale-sim', command: ['sleep', '1000000'] }, placement } };
      await admin.control.call('CreateService', { spec, noResolveImage: true }, 60_000);
    }
    console.log(`catch-up --process: ${services} services created in ${((performance.now() - fill0) / 1000).toFixed(1)} s; waiting for their tasks and a snapshot with them`);
    await waitFor(`${taskCount} tasks in m1's store`, async () => (await admin.list('ListTasks', {})).length >= taskCount, { timeoutMs: 600_000, intervalMs: 2_000 });
    // The joiner gets the leader's newest snapshot and the entries after it, as in bench:scale.
    const snap = await waitFor('a snapshot of m1', () => newestSnapshotFile(m1.dataDir), { timeoutMs: 120_000, intervalMs: 1_000 });
    console.log(`catch-up --process: ${taskCount} pending tasks in ${services} services on m1 in ${((performance.now() - fill0) / 1000).toFixed(1)} s; its snapshot ${(snap.bytes / 2 ** 20).toFixed(1)} MiB at index ${snap.index}; load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);

    const t0 = Date.now();
    const m2 = await cluster.join('m2', 'manager');
    const processReady = Date.now() - t0;
    const m2Client = cluster.client(m2);
    await waitFor('m2 to list every service', async () => {
      try {
        return (await m2Client.list('ListServices', {})).length >= services;
      } catch {
        return false;
      }
    }, { timeoutMs: 600_000, intervalMs: 100 });
    const caughtUp = Date.now() - t0;
    const at = (msg: string) => readLog(m2.logFile, msg)[0];
    const firstAt = (readLog(m2.logFile)[0]?.time ?? NaN) - t0;
    const roleAt = (at('raft role changed')?.time ?? NaN) - t0;
    const install = at('installed a snapshot from the leader');
    const installAt = (install?.time ?? NaN) - t0;
    const restoreMs = typeof install?.restoreMs === 'number' ? install.restoreMs : NaN;
    // The durable write alone, on this snapshot's bytes: what the joiner does before restoring.
    // The newest file again: a newer snapshot may have replaced the one named above.
    const snapBytes = await waitFor(`m1's snapshot file`, () => readFileSync(newestSnapshotFile(m1.dataDir)?.path ?? ''), { timeoutMs: 10_000, intervalMs: 100 });
    const fileSnap = decodeSnapshot(snapBytes.subarray(8));
    const writeDir = makeTempDir('baton-catch-up-write');
    const w0 = performance.now();
    await writeSnapshotFile(writeDir, fileSnap);
    const writeMs = performance.now() - w0;
    const s = (ms: number) => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);
    console.log(`m2 caught up in ${s(caughtUp)} (bench:scale's criterion: ListServices on it lists every service): from \`baton join\`, first log line ${s(firstAt)} (the launcher saw its first stdout line at ${s(processReady)}), Raft's first role ${s(roleAt)}, snapshot installed ${s(installAt)} (its restore ${s(restoreMs)}), services listed ${s(caughtUp)}`);
    console.log(`  so: start and join ${s(firstAt)}; to Raft's first role ${s(roleAt - firstAt)}; sending, receiving and the durable write ${s(installAt - restoreMs - roleAt)} (the write alone, here: ${s(writeMs)}); restore ${s(restoreMs)}; after it ${s(caughtUp - installAt)}; load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
    const warning = busyMachineWarning();
    if (warning) console.log(warning);
    const sec = (ms: number) => (Number.isNaN(ms) ? null : round(ms / 1000, 3));
    const path = writeRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'catch-up-process', started, machineInfo(), loadavg(), {
      tasks: taskCount,
      services,
      snapshotMiB: round(snap.bytes / 2 ** 20, 1),
      snapshotIndex: snap.index,
      installedIndex: install?.index ?? null,
      secondsFromJoin: { firstLogLine: sec(firstAt), launcherReady: sec(processReady), raftRole: sec(roleAt), snapshotInstalled: sec(installAt), servicesListed: sec(caughtUp) },
      restoreSeconds: sec(restoreMs),
      durableWriteSeconds: sec(writeMs),
    });
    console.log(`results: ${path}`);
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  if (args.process) {
    await processPath(count(args.tasks, 100_000));
    return;
  }
  if (args['store-only']) {
    if (!args['raft-dir']) throw new Error('--store-only needs --raft-dir DIR');
    await storeOnly(args['raft-dir']);
    return;
  }
  if (args['make-log']) {
    await makeLog(args['make-log'], count(args.tasks, 100_000), count(args.nodes, 1000));
    return;
  }
  if (!args['raft-dir']) throw new Error('--raft-dir DIR is required: the raft folder of a manager of a kept bench:scale run (or of --make-log DIR)');
  installCleanupHandlers();
  keepTempDirs(args.keep);
  const started = new Date();
  const root = makeTempDir('baton-catch-up');
  // A copy: LevelDB takes a lock, and the source may belong to a run still kept for inspection.
  cpSync(resolve(args['raft-dir']), join(root, 'source'), { recursive: true });
  const source = await RaftStorage.open(join(root, 'source'));
  const recorded = source.load().entries.filter((e) => e.type === EntryType.ENTRY_NORMAL && e.data.length > 0);
  await source.close();
  const logBytes = recorded.reduce((n, e) => n + e.data.length, 0);

  const logger = pino({ level: 'silent' });
  // Ticks as the bench's managers run them (--election-timeout 5s): a loaded machine must not
  // turn the measurement into an election.
  const timing = { tickMs: 100, electionTicks: 50 };
  const leaderStore = new ClusterStore();
  const leader = await RaftNode.start({ id: 'a', dataDir: join(root, 'a'), listen: '127.0.0.1:0', peers: {}, bootstrap: ['a'], stateMachine: leaderStore, logger, ...timing });
  await waitFor('the leader', () => leader.status().role === 'leader', { timeoutMs: 30_000 });
  const rebuild0 = performance.now();
  let failed = 0;
  for (let i = 0; i < recorded.length; i += IN_FLIGHT) {
    const results = await Promise.all(recorded.slice(i, i + IN_FLIGHT).map((e) => leader.propose(e.data)));
    failed += results.filter((r) => !r.ok).length;
  }
  const rebuildSeconds = (performance.now() - rebuild0) / 1000;
  const tasks = leaderStore.count('task');
  console.log(`catch-up: ${recorded.length} entries (${(logBytes / 2 ** 20).toFixed(1)} MiB) proposed again in ${rebuildSeconds.toFixed(1)} s: ${tasks} tasks, ${failed} refused by the store; leader snapshots taken ${leader.stats().snapshotsTaken}; load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  // What one snapshot of this state costs the leader to encode (it took its own during the
  // rebuild, on its event loop: not part of the catch-up below).
  const enc0 = performance.now();
  const snapshotBytes = leaderStore.snapshot().length;
  const encodeMs = performance.now() - enc0;

  // The phases, stamped from the new member's side (ms since it started).
  const at: { added?: number; firstChunk?: number; lastChunk?: number; restoreStart?: number; restoreEnd?: number; lastApply?: number } = {};
  const joinerStore = new ClusterStore();
  let applied = 0;
  let appliedAfterRestore = 0;
  const since = (): number => performance.now() - t0;
  // The process's CPU (both nodes) at the restore's start and end, and at the last apply: the
  // install's and the tail's own CPU, beside their wall time on a loaded machine.
  const cpuAt: { restoreStart?: number; restoreEnd?: number; lastApply?: number } = {};
  const counting = {
    apply: (e: Parameters<ClusterStore['apply']>[0]) => {
      applied++;
      if (at.restoreEnd !== undefined) appliedAfterRestore++;
      const r = joinerStore.apply(e);
      at.lastApply = since();
      cpuAt.lastApply = cpuMs();
      return r;
    },
    snapshot: () => joinerStore.snapshot(),
    restore: (d: Uint8Array) => {
      at.restoreStart = since();
      cpuAt.restoreStart = cpuMs();
      joinerStore.restore(d);
      at.restoreEnd = since();
      cpuAt.restoreEnd = cpuMs();
    },
  };
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const joiner = await RaftNode.start({ id: 'd', dataDir: join(root, 'd'), listen: '127.0.0.1:0', peers: { a: `127.0.0.1:${leader.raftPort}` }, bootstrap: [], stateMachine: counting, logger, ...timing });
  // Chunks are counted by the core; a 10 ms poll stamps the first and the last one's arrival.
  let lastReceived = 0;
  const poll = setInterval(() => {
    const received = joiner.stats().snapshotChunks.received;
    if (received > 0 && at.firstChunk === undefined) at.firstChunk = since();
    if (received > lastReceived) at.lastChunk = since();
    lastReceived = received;
  }, 10);
  await leader.changeMembership(ConfChangeType.ADD_VOTER, 'd', `127.0.0.1:${joiner.raftPort}`);
  at.added = since();
  await waitFor('the new member to answer a linearizable read with every task', async () => {
    try {
      await joiner.readBarrier();
    } catch {
      return false;
    }
    return joinerStore.count('task') === tasks;
  }, { timeoutMs: 600_000, intervalMs: 50 });
  clearInterval(poll);
  const catchUpSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpuMs() - cpu0) / 1000;
  const installed = joiner.stats().snapshotsInstalled;
  const sent = leader.stats().snapshotChunks;
  const received = joiner.stats().snapshotChunks;
  console.log(`new member caught up in ${catchUpSeconds.toFixed(2)} s (process CPU ${cpuSeconds.toFixed(2)} s): ${installed} snapshot(s) installed, ${applied} entries applied one by one (target: <= 10 s at 100,000 tasks, with the process start)`);
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${(v / 1000).toFixed(2)} s`);
  console.log(`  leader's snapshot ${(snapshotBytes / 2 ** 20).toFixed(1)} MiB (one encode here: ${encodeMs.toFixed(0)} ms); chunks sent ${sent.sent} (${sent.resent} again), received ${received.received} (${received.ignored} ignored)`);
  console.log(`  from the new member's start: added ${ms(at.added)}, first chunk ${ms(at.firstChunk)}, last chunk ${ms(at.lastChunk)}, restore ${ms(at.restoreStart)} -> ${ms(at.restoreEnd)}, last of ${appliedAfterRestore} entries after it applied ${ms(at.lastApply)}, read answered ${ms(catchUpSeconds * 1000)}`);
  const cpuPhase = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : round((b - a) / 1000, 2));
  const cpu = {
    toRestore: cpuPhase(cpu0, cpuAt.restoreStart),
    restore: cpuPhase(cpuAt.restoreStart, cpuAt.restoreEnd),
    tail: cpuPhase(cpuAt.restoreEnd, cpuAt.lastApply),
  };
  console.log(`  process CPU: ${cpu.toRestore ?? '-'} s to the restore (start, join, chunks, the snapshot persisted), ${cpu.restore ?? '-'} s restoring, ${cpu.tail ?? '-'} s for the entries after it`);
  const warning = busyMachineWarning();
  if (warning) console.log(warning);
  const phase = (v: number | undefined) => (v === undefined ? null : round(v / 1000, 3));
  const path = writeRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'catch-up', started, machineInfo(), loadavg(), {
    entries: recorded.length,
    logMiB: round(logBytes / 2 ** 20, 1),
    tasks,
    leaderSnapshotsTaken: leader.stats().snapshotsTaken,
    catchUpSeconds: round(catchUpSeconds, 2),
    cpuSeconds: round(cpuSeconds, 2),
    snapshotsInstalled: installed,
    entriesApplied: applied,
    snapshotMiB: round(snapshotBytes / 2 ** 20, 1),
    snapshotEncodeMs: Math.round(encodeMs),
    chunksSent: sent.sent,
    chunksResent: sent.resent,
    chunksReceived: received.received,
    chunksIgnored: received.ignored,
    cpuSecondsByPhase: cpu,
    secondsFromStart: { added: phase(at.added), firstChunk: phase(at.firstChunk), lastChunk: phase(at.lastChunk), restoreStart: phase(at.restoreStart), restoreEnd: phase(at.restoreEnd), lastApply: phase(at.lastApply), readAnswered: round(catchUpSeconds, 3) },
  });
  console.log(`results: ${path}`);
  await joiner.stop();
  await leader.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench catch-up failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
