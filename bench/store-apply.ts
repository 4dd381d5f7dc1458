// node dist/bench/store-apply.js [--tasks 20000] [--nodes 200] [--turns 5] [--base DIR]
// A follower's CPU and heap to apply the log of a wave of tasks, in-process, without Raft: what
// every manager pays per task besides its own work (docs/scale.md, "The store's apply per task").
//
// The log is made once, by this build's leader loops on a store without Raft (test/lib/local-
// cluster): a service of --tasks replicas created and placed on --nodes nodes (creates and
// assignments, 200 actions an entry, as the loops write them), then every task's status reports
// as the dispatcher writes them (195 an entry: ~40% of the tasks Starting, then all Running, so
// ~1.4 a task, as in the 200-node profile). Each turn a fresh store applies every entry, with
// the listener every manager has (its event history); with --base DIR (another checkout's root,
// built) that build's store applies the same entries in alternating turns. Printed per build:
// CPU µs per task (user + system) for the whole log and for each part, the heap after a full
// GC once everything is applied, and the GC time (the process needs --expose-gc for the heap;
// the command line below adds it when missing).
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { baton } from '../proto/gen/baton.js';
import type { Entry } from '../raft/index.js';
import { updateAction, type Stored } from '../manager/store/index.js';
import { started } from '../test/lib/local-cluster.js';
import { MAX_REPLICAS } from '../spec/index.js';
import { count, projectRoot } from './lib/args.js';
import { finishRun, formatTable, ratio } from './lib/results.js';
import { median } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string' },
    nodes: { type: 'string' },
    turns: { type: 'string' },
    base: { type: 'string' },
    out: { type: 'string' },
  },
});

/** A service holds at most MAX_REPLICAS: the wave is spread over as few services as that allows. */
const SERVICES = Math.ceil(count(args.tasks, 20_000) / MAX_REPLICAS);
const TASKS = Math.round(count(args.tasks, 20_000) / SERVICES) * SERVICES;
const NODES = count(args.nodes, 200);
const TURNS = count(args.turns, 5);
/** What the dispatcher's status writes held per entry in the 200-node profile. */
const STATUSES_PER_ENTRY = 195;
/** The share of tasks whose Starting report reaches the leader apart from their Running one. */
const STARTING_SHARE = 0.4;
const S = baton.TaskState;

/** What a build's store module gives this bench (its own shape, so an older build fits). */
interface StoreModule {
  ClusterStore: new () => { apply(e: Entry): { ok: boolean }; count(kind: 'task'): number };
}
interface HistoryModule {
  EventHistory: new (store: unknown) => unknown;
}
interface Build {
  name: string;
  store: StoreModule;
  history: HistoryModule;
}

type Part = 'create and assign' | 'status';
interface LogEntry {
  part: Part;
  entry: Entry;
}

/** The entries of the wave, as this build's leader writes them. */
async function makeLog(): Promise<LogEntry[]> {
  const c = await started({}, Array.from({ length: NODES }, (_, i) => `n${i + 1}`));
  const log: LogEntry[] = [];
  let part: Part = 'create and assign';
  const apply = c.store.apply.bind(c.store);
  c.store.apply = (entry) => {
    // The bytes as a follower gets them from its log: a copy of their own.
    log.push({ part, entry: { ...entry, data: Uint8Array.from(entry.data) } });
    return apply(entry);
  };
  for (let s = 0; s < SERVICES; s++) c.addService(`s${s}`, `web${s}`, { replicas: TASKS / SERVICES });
  await c.settle();
  c.stop();
  part = 'status';
  const tasks = c.store.list('task');
  const report = (ts: Stored<'task'>[], state: baton.TaskState, at: number): void => {
    for (let i = 0; i < ts.length; i += STATUSES_PER_ENTRY) {
      // As dispatcher/sessions.ts writes a node's report: the stored task with the reported status.
      const actions = ts.slice(i, i + STATUSES_PER_ENTRY).map((stored) => {
        const t = c.store.get('task', stored.meta.id)!;
        return updateAction('task', { ...(t as baton.Task), status: { state, timestamp: at, containerId: `c-${t.meta.id}` } });
      });
      c.host.apply(actions);
    }
  };
  const now = c.clock.now();
  report(
    tasks.filter((_, i) => i % 5 < STARTING_SHARE * 5),
    S.TASK_STARTING,
    now + 1000,
  );
  report(tasks, S.TASK_RUNNING, now + 2000);
  if (c.store.count('task') !== TASKS) throw new Error(`the wave made ${c.store.count('task')} tasks, not ${TASKS}`);
  return log;
}

interface Turn {
  usPerTask: Record<Part | 'all', number>;
  gcMs: number;
  heapMiB: number;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

/** One build's store applies the whole log. */
async function turn(build: Build, log: readonly LogEntry[]): Promise<Turn> {
  gc();
  // The forced collection's own entry reaches the observer later: not this turn's.
  await new Promise((r) => setImmediate(r));
  const heap0 = process.memoryUsage().heapUsed;
  const store = new build.store.ClusterStore();
  const history = new build.history.EventHistory(store);
  const cpu: Record<Part, number> = { 'create and assign': 0, status: 0 };
  const gc0 = gcMs;
  for (const { part, entry } of log) {
    const before = process.cpuUsage();
    const result = store.apply(entry);
    const used = process.cpuUsage(before);
    cpu[part] += used.user + used.system;
    if (!result.ok) throw new Error(`${build.name}: entry ${entry.index} failed to apply`);
  }
  // Let the GC entries of the turn arrive (they are queued to the observer).
  await new Promise((r) => setImmediate(r));
  const turnGcMs = gcMs - gc0;
  gc();
  const heapMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  if (store.count('task') !== TASKS || history === undefined) throw new Error(`${build.name}: ${store.count('task')} tasks applied`);
  return {
    usPerTask: { 'create and assign': cpu['create and assign'] / TASKS, status: cpu.status / TASKS, all: (cpu['create and assign'] + cpu.status) / TASKS },
    gcMs: turnGcMs,
    heapMiB,
  };
}

async function load(root: string, name: string): Promise<Build> {
  return {
    name,
    store: (await import(resolve(root, 'dist/manager/store/index.js'))) as StoreModule,
    history: (await import(resolve(root, 'dist/manager/events/history.js'))) as HistoryModule,
  };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const load0 = loadavg();
  const ours = await load(projectRoot, 'branch');
  const base = args.base ? await load(resolve(args.base), 'base') : undefined;
  const log = await makeLog();
  const entries = (p: Part): LogEntry[] => log.filter((e) => e.part === p);
  const bytes = log.reduce((n, e) => n + e.entry.data.length, 0);
  console.log(
    `bench store-apply: ${TASKS} tasks of ${SERVICES} service(s) on ${NODES} nodes, ${log.length} entries (${entries('create and assign').length} create and assign, ` +
      `${entries('status').length} status), ${(bytes / TASKS).toFixed(0)} B a task; ${TURNS} turns${base ? ` alternating with ${args.base}` : ''}; ` +
      `load ${load0.map((v) => v.toFixed(2)).join(' ')}`,
  );
  const turns: Record<'base' | 'branch', Turn[]> = { base: [], branch: [] };
  // A warm-up turn each (JIT), then alternating turns, each build first every other turn.
  await turn(ours, log);
  if (base) await turn(base, log);
  for (let t = 0; t < TURNS; t++) {
    const order = t % 2 === 0 ? (['base', 'branch'] as const) : (['branch', 'base'] as const);
    for (const which of order) {
      if (which === 'branch') turns.branch.push(await turn(ours, log));
      else if (base) turns.base.push(await turn(base, log));
    }
  }
  const m = (xs: number[]): number | undefined => (xs.length > 0 ? median(xs) : undefined);
  const f = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
  const spread = (xs: number[]): string => (xs.length > 0 ? `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}` : '-');
  const row = (label: string, pick: (t: Turn) => number): string[] => {
    const b = turns.base.map(pick);
    const o = turns.branch.map(pick);
    return [label, f(m(b)), f(m(o)), ratio(m(o), m(b)), spread(b), spread(o)];
  };
  console.log(
    formatTable([
      ['median of turns', 'base', 'this branch', 'branch/base', 'spread base', 'spread branch'],
      row('apply CPU µs per task, whole log', (t) => t.usPerTask.all),
      row('  create and assign entries', (t) => t.usPerTask['create and assign']),
      row('  status entries', (t) => t.usPerTask.status),
      row('GC ms over the turn', (t) => t.gcMs),
      row('heap MiB held after the log (full GC)', (t) => t.heapMiB),
    ]),
  );
  finishRun(resolve(args.out ?? join(projectRoot, 'bench/results')), 'store-apply', startedAt, load0, {
    tasks: TASKS,
    services: SERVICES,
    nodes: NODES,
    turns: TURNS,
    base: args.base,
    entries: log.length,
    bytesPerTask: bytes / TASKS,
    results: turns,
  });
}

// The heap figure needs a full GC on demand: start again with --expose-gc when it is missing.
if ((globalThis as { gc?: unknown }).gc === undefined && !process.execArgv.includes('--expose-gc')) {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:store-apply failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
