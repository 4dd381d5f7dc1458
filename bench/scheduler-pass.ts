// node dist/bench/scheduler-pass.js [--nodes 1000] [--tasks 100000] [--services 10]
//   [--refill 1000] [--turns 3] [--base DIR]
// The scheduler's CPU per placement, in-process (no Raft, no network), for issue 17 and
// docs/scale.md. With --base DIR (another built checkout's root, e.g. main's) each part runs with
// that build's scheduler and with this one, in alternating turns, and prints both:
//
// - burst: one decision pass (scheduleTasks) placing --tasks pending tasks of --services
//   services (each with one spec) on --nodes empty nodes: what a leader does when the
//   services are created.
// - refill: the scheduler loop on a store (LocalHost) holding --tasks running tasks, when
//   --refill new tasks wait (the orchestrator's replacements after nodes were lost): the
//   pass, its writes applied to the store, until the loop is idle. Averaged over 5 refills
//   per turn, after one unmeasured refill (a loop counts the nodes' loads on its first pass).
// - upkeep: the same loop while tasks report status and nothing waits (what the scheduler
//   costs beside the store on every task change at full size): CPU per status write of 100.
// - converge: every leader loop (test/lib/local-cluster: orchestrators, scheduler, updater...)
//   on a store with --converge-nodes nodes, from the creation of services of 10,000 replicas
//   totalling --converge-tasks until every task is assigned, then until every task is reported
//   Running (batches of 1,000 reports): the CPU of the whole and of the scheduler's passes in
//   it, the in-process stand-in for the scheduler's share of a leader profile in bench:scale.
//
// Every figure is CPU (user + system) of this process, garbage collection included.
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { baton } from '../proto/gen/baton.js';
import { nodeObject } from '../test/lib/local-cluster.js';
import { baseDist, benchDir, count, projectRoot } from './lib/args.js';
import { finishRun, formatTable, ratio } from './lib/results.js';
import { median } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string' },
    tasks: { type: 'string' },
    services: { type: 'string' },
    refill: { type: 'string' },
    turns: { type: 'string' },
    'converge-nodes': { type: 'string' },
    'converge-tasks': { type: 'string' },
    base: { type: 'string' },
    out: { type: 'string' },
  },
});
const NODES = count(args.nodes, 1000);
const TASKS = count(args.tasks, 100_000);
const SERVICES = count(args.services, 10);
const REFILL = count(args.refill, 1000);
const TURNS = count(args.turns, 3);
const CONVERGE_NODES = count(args['converge-nodes'], 300);
const CONVERGE_TASKS = count(args['converge-tasks'], 30_000, 0);
const REFILLS_PER_TURN = 5;
const UPKEEP_WRITES = 100;
const S = baton.TaskState;

type SchedulerModule = typeof import('../manager/scheduler/index.js');
type HostModule = typeof import('../manager/reconcile/local-host.js');
type StoreModule = typeof import('../manager/store/index.js');
type ClusterModule = typeof import('../test/lib/local-cluster.js');
interface Build {
  name: string;
  scheduler: SchedulerModule;
  host: HostModule;
  store: StoreModule;
  cluster: ClusterModule;
}

async function load(name: string, dist: string): Promise<Build> {
  return {
    name,
    scheduler: (await import(join(dist, 'manager/scheduler/index.js'))) as SchedulerModule,
    host: (await import(join(dist, 'manager/reconcile/local-host.js'))) as HostModule,
    store: (await import(join(dist, 'manager/store/index.js'))) as StoreModule,
    cluster: (await import(join(dist, 'test/lib/local-cluster.js'))) as ClusterModule,
  };
}

const nodeIds = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(5, '0')}`);
const nodes = nodeIds.map((id) => nodeObject(id, { cpus: 64, memGiB: 256 }));

let seq = 0;
/** A task of `service` as the orchestrator makes it (pending, no node) or as it runs on `nodeId`. */
function task(service: string, nodeId = ''): baton.Task.$Properties {
  const id = `task-${String(++seq).padStart(8, '0')}`;
  return {
    meta: { id, createdAt: seq, updatedAt: seq },
    annotations: { name: `${service}.${seq}` },
    serviceId: service,
    slot: seq,
    nodeId,
    spec: { runtime: 'docker', container: { image: 'busybox' }, resources: { reservations: { nanoCpus: 1e7, memoryBytes: 2 ** 20 } } },
    endpoint: {},
    desiredState: S.TASK_RUNNING,
    status: { state: nodeId === '' ? S.TASK_PENDING : S.TASK_RUNNING },
  };
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/** One decision pass over empty nodes; CPU ms. */
function burst(b: Build): number {
  const pending = Array.from({ length: TASKS }, (_, i) => task(`svc-${i % SERVICES}`));
  const before = process.cpuUsage();
  const decisions = b.scheduler.scheduleTasks(nodes, [], pending);
  const ms = cpuMs(before);
  const placed = decisions.filter((d) => d.nodeId !== undefined).length;
  if (placed !== TASKS) throw new Error(`${b.name}: ${placed} of ${TASKS} placed`);
  return ms;
}

/** A store with every node and --tasks running tasks, and the scheduler loop running on it. */
function loaded(b: Build): { host: InstanceType<HostModule['LocalHost']>; scheduler: InstanceType<SchedulerModule['Scheduler']> } {
  const host = new b.host.LocalHost();
  host.apply(nodes.map((n) => b.store.createAction('node', n)));
  for (let i = 0; i < TASKS; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(TASKS, i + 1000); j++) batch.push(b.store.createAction('task', task(`svc-${j % SERVICES}`, nodeIds[j % NODES])));
    host.apply(batch);
  }
  const scheduler = new b.scheduler.Scheduler(host);
  scheduler.start();
  return { host, scheduler };
}

type Loaded = ReturnType<typeof loaded>;

/** --refill tasks created pending, placed by the loop; CPU ms of the pass and its writes. */
async function refill(b: Build, l: Loaded): Promise<number> {
  const fresh = Array.from({ length: REFILL }, () => task('refill'));
  await l.scheduler.idle();
  const before = process.cpuUsage();
  l.host.apply(fresh.map((t) => b.store.createAction('task', t)));
  await l.scheduler.idle();
  const ms = cpuMs(before);
  const placed = fresh.filter((t) => l.host.store.get('task', t.meta!.id!)?.nodeId !== '').length;
  if (placed !== REFILL) throw new Error(`${b.name}: ${placed} of ${REFILL} refilled`);
  // Gone again (unmeasured), so every refill meets the same cluster.
  l.host.apply(fresh.map((t) => b.store.deleteAction('task', l.host.store.get('task', t.meta!.id!)!)));
  await l.scheduler.idle();
  return ms;
}

/** Status writes of 100 running tasks each, nothing pending; CPU µs per write. */
async function upkeep(b: Build, l: Loaded): Promise<number> {
  const ids = l.host.store.scan('task').slice(0, UPKEEP_WRITES * 100).map((t) => t.meta.id);
  await l.scheduler.idle();
  const before = process.cpuUsage();
  for (let i = 0; i < ids.length; i += 100) {
    l.host.apply(
      ids.slice(i, i + 100).map((id) => {
        const t = b.store.cloneObject('task', l.host.store.get('task', id)!);
        t.status = { ...t.status, timestamp: Date.now(), message: `report ${i}` };
        return b.store.updateAction('task', t);
      }),
    );
    await l.scheduler.idle();
  }
  return (cpuMs(before) * 1000) / UPKEEP_WRITES;
}

interface Converge {
  assignMs: number;
  assignSchedulerMs: number;
  runningMs: number;
  runningSchedulerMs: number;
}

/** The leader loops from the services' creation to all assigned, then to all Running; CPU ms of all and of the scheduler. */
async function converge(b: Build): Promise<Converge> {
  const ids = Array.from({ length: CONVERGE_NODES }, (_, i) => `node-${String(i).padStart(5, '0')}`);
  const c = await b.cluster.started({}, ids);
  const scheduler = c.loops.find((l) => l.name === 'scheduler') as unknown as { reconcile(): unknown } | undefined;
  if (scheduler === undefined) throw new Error(`${b.name}: no scheduler loop`);
  // The scheduler's passes, timed from inside: its reconcile() wrapped on this instance.
  let schedulerMicros = 0;
  const reconcile = scheduler.reconcile.bind(scheduler);
  scheduler.reconcile = (): unknown => {
    const before = process.cpuUsage();
    try {
      return reconcile();
    } finally {
      const u = process.cpuUsage(before);
      schedulerMicros += u.user + u.system;
    }
  };
  const services: string[] = [];
  for (let left = CONVERGE_TASKS; left > 0; left -= 10_000) services.push(`svc-${services.length}`);
  let before = process.cpuUsage();
  services.forEach((id, i) => c.addService(id, id, { replicas: Math.min(10_000, CONVERGE_TASKS - i * 10_000) }));
  await c.settle();
  const assignMs = cpuMs(before);
  const assignSchedulerMs = schedulerMicros / 1000;
  const tasks = services.flatMap((id) => c.tasks(id));
  const assigned = tasks.filter((t) => t.nodeId !== '').length;
  if (assigned !== CONVERGE_TASKS) throw new Error(`${b.name}: ${assigned} of ${CONVERGE_TASKS} assigned`);
  schedulerMicros = 0;
  before = process.cpuUsage();
  for (let i = 0; i < tasks.length; i += 1000) {
    for (const t of tasks.slice(i, i + 1000)) c.report(t.meta.id, S.TASK_RUNNING);
    await c.settle();
  }
  const runningMs = cpuMs(before);
  c.stop();
  return { assignMs, assignSchedulerMs, runningMs, runningSchedulerMs: schedulerMicros / 1000 };
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  console.log(`bench scheduler-pass: ${NODES} nodes, ${TASKS} tasks in ${SERVICES} services, refills of ${REFILL}, ${TURNS} turns; load ${load0.map((v) => v.toFixed(2)).join(' ')}`);
  const builds = [await load('branch', resolve(benchDir, '..'))];
  if (args.base) builds.unshift(await load('base', baseDist(args.base)));
  const burstMs = new Map<string, number[]>(builds.map((b) => [b.name, []]));
  const refillMs = new Map<string, number[]>(builds.map((b) => [b.name, []]));
  const upkeepUs = new Map<string, number[]>(builds.map((b) => [b.name, []]));
  const converges = new Map<string, Converge[]>(builds.map((b) => [b.name, []]));
  const clusters = new Map<string, Loaded>();
  for (const b of builds) {
    const l = loaded(b);
    await refill(b, l); // the first pass counts every node's load (the branch's loop keeps it after)
    clusters.set(b.name, l);
  }
  for (let turn = 0; turn < TURNS; turn++) {
    // Each build goes first in every other turn: a drift of the machine's load hits both.
    for (const b of turn % 2 === 0 ? builds : [...builds].reverse()) {
      burstMs.get(b.name)!.push(burst(b));
      const l = clusters.get(b.name)!;
      let sum = 0;
      for (let r = 0; r < REFILLS_PER_TURN; r++) sum += await refill(b, l);
      refillMs.get(b.name)!.push(sum / REFILLS_PER_TURN);
      upkeepUs.get(b.name)!.push(await upkeep(b, l));
      console.log(`turn ${turn + 1} ${b.name}: burst ${burstMs.get(b.name)!.at(-1)!.toFixed(0)} ms, refill ${refillMs.get(b.name)!.at(-1)!.toFixed(1)} ms, upkeep ${upkeepUs.get(b.name)!.at(-1)!.toFixed(0)} µs per write of 100`);
    }
  }
  for (const l of clusters.values()) l.scheduler.stop();
  clusters.clear();
  if (CONVERGE_TASKS > 0) {
    for (let turn = 0; turn < TURNS; turn++) {
      for (const b of turn % 2 === 0 ? builds : [...builds].reverse()) {
        const r = await converge(b);
        converges.get(b.name)!.push(r);
        console.log(
          `converge turn ${turn + 1} ${b.name}: all assigned ${r.assignMs.toFixed(0)} ms (scheduler ${r.assignSchedulerMs.toFixed(0)}), all Running ${r.runningMs.toFixed(0)} ms (scheduler ${r.runningSchedulerMs.toFixed(0)})`,
        );
      }
    }
  }
  const part = (key: keyof Converge): Map<string, number[]> => new Map([...converges].map(([name, rs]) => [name, rs.map((r) => r[key])]));
  const m = (xs: number[] | undefined): number | undefined => (xs && xs.length > 0 ? median(xs) : undefined);
  const f = (v: number | undefined, d = 1): string => (v === undefined ? '-' : v.toFixed(d));
  const spread = (xs: number[] | undefined): string => (xs && xs.length > 0 ? `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}` : '-');
  const row = (label: string, by: Map<string, number[]>, per = 1): string[] => {
    const [base, branch] = [m(by.get('base')), m(by.get('branch'))];
    return [label, f(base === undefined ? undefined : base / per, 2), f(branch === undefined ? undefined : branch / per, 2), ratio(branch, base), spread(by.get('base')), spread(by.get('branch'))];
  };
  console.log(
    formatTable([
      ['CPU (median of turns)', 'base', 'this branch', 'branch/base', 'spread base', 'spread branch'],
      row(`burst: ms for ${TASKS} placements on ${NODES} nodes`, burstMs),
      row(`burst: µs per placement`, burstMs, TASKS / 1000),
      row(`refill: ms for ${REFILL} placements among ${TASKS} tasks (pass and writes)`, refillMs),
      row(`upkeep: µs per status write of 100 tasks, nothing pending`, upkeepUs),
      ...(CONVERGE_TASKS > 0
        ? [
            row(`converge ${CONVERGE_TASKS} tasks on ${CONVERGE_NODES} nodes: ms to all assigned, every loop`, part('assignMs')),
            row(`  of which the scheduler's passes`, part('assignSchedulerMs')),
            row(`converge: ms to all Running (reports of 1,000), every loop`, part('runningMs')),
            row(`  of which the scheduler's passes`, part('runningSchedulerMs')),
          ]
        : []),
    ]),
  );
  finishRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'scheduler-pass', started, load0, {
    nodes: NODES,
    tasks: TASKS,
    services: SERVICES,
    refill: REFILL,
    turns: TURNS,
    base: args.base,
    burstMs: Object.fromEntries(burstMs),
    refillMs: Object.fromEntries(refillMs),
    upkeepUsPerWrite: Object.fromEntries(upkeepUs),
    convergeNodes: CONVERGE_NODES,
    convergeTasks: CONVERGE_TASKS,
    converge: Object.fromEntries(converges),
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:scheduler-pass failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
