// The worker agent against the fake executor and a real LevelDB in a temp dir: Swarm's task
// lifecycle, shutdown and removal, restarts that adopt instead of restarting, leftovers removed
// only on a full set's word, and reports that are batched and retried. Every case runs twice:
// on the LevelDB, and on the in-memory store of the scale simulation (test/lib/memory-task-store.ts),
// which must honour the same contract.
import { AsyncLocalStorage } from 'node:async_hooks';
import nodeTest, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { Agent } from '../../worker/agent/index.js';
import { TaskDb, type AgentStore } from '../../worker/agent/task-db.js';
import { MemoryTaskDisk } from '../lib/memory-task-store.js';
import { FakeExecutor, type FakeOp, type HeldCall } from '../lib/fake-executor.js';
import { sleep, waitFor } from '../lib/wait.js';
import { MAX_TASK_STATUS_TEXT } from '../../spec/index.js';

const STORES = ['LevelDB', 'memory'] as const;
type StoreKind = (typeof STORES)[number];
/** The store the running case is on (each case is registered once per store). */
const storeKind = new AsyncLocalStorage<StoreKind>();

function test(title: string, fn: (t: TestContext) => Promise<void>): void {
  for (const kind of STORES) nodeTest(`${title} [${kind} store]`, (t) => storeKind.run(kind, () => fn(t)));
}

// The agent reacts within milliseconds: look often, give up after 5 s.
const POLL = { timeoutMs: 5_000, intervalMs: 5 };

const S = baton.TaskState;
const NODE = 'node-1';

function name(state: baton.TaskState | null | undefined): string {
  return S[state ?? 0] ?? String(state);
}

/** One agent's world: a state dir, an executor that outlives agents, the managers' inbox. */
class World {
  readonly reports: baton.internal.TaskStatusUpdate.$Properties[][] = [];
  readonly logLines: { taskId?: string; state?: string; msg: string }[] = [];
  /** Report calls to refuse before accepting again. */
  failReports = 0;
  failedReports = 0;
  agent: Agent | undefined;

  /** The in-memory store's "disk", kept across agents as the LevelDB directory is. */
  private readonly memory = new MemoryTaskDisk();

  constructor(
    readonly dir: string,
    readonly fake: FakeExecutor,
    readonly store: StoreKind,
  ) {}

  /** The store an agent of this world opens (another one reads what the last agent left). */
  openStore(): Promise<AgentStore> {
    return this.store === 'memory' ? this.memory.open() : TaskDb.open(join(this.dir, 'agent-db'));
  }

  async open(): Promise<Agent> {
    const logger = pino({ level: 'debug' }, { write: (line: string) => this.logLines.push(JSON.parse(line) as World['logLines'][number]) });
    this.agent = await Agent.open({
      nodeId: NODE,
      clusterId: 'cluster-1',
      stateDir: this.dir,
      openStore: () => this.openStore(),
      executors: { process: this.fake },
      logger,
      report: async (updates) => {
        if (this.failReports > 0) {
          this.failReports--;
          this.failedReports++;
          throw new Error('manager unreachable');
        }
        this.reports.push(updates.map((u) => ({ taskId: u.taskId, status: { ...u.status } })));
      },
    });
    return this.agent;
  }

  /** Every state reported for the task, in order (acknowledged calls only). */
  reported(taskId: string): string[] {
    return this.reports.flatMap((batch) => batch.filter((u) => u.taskId === taskId).map((u) => name(u.status?.state)));
  }

  last(taskId: string): baton.TaskStatus.$Properties | undefined {
    for (let i = this.reports.length - 1; i >= 0; i--) {
      const u = this.reports[i]!.find((x) => x.taskId === taskId);
      if (u) return u.status ?? undefined;
    }
    return undefined;
  }

  /** Every state the agent went through for the task, from its log. */
  logged(taskId: string): string[] {
    return this.logLines.filter((l) => l.msg === 'task state' && l.taskId === taskId).map((l) => `TASK_${l.state ?? ''}`);
  }

  apply(msg: baton.internal.SessionMessage.$Properties): void {
    this.agent!.apply(baton.internal.SessionMessage.create(msg));
  }

  /** States reported for any task never went backwards, and each call names a task once. */
  checkMonotonic(): void {
    const last = new Map<string, number>();
    for (const batch of this.reports) {
      const ids = batch.map((u) => u.taskId);
      assert.equal(new Set(ids).size, ids.length, 'a report call names a task twice');
      for (const u of batch) {
        const state: number = u.status?.state ?? S.TASK_NEW;
        const prev = last.get(u.taskId ?? '') ?? -1;
        assert.ok(state > prev, `task ${u.taskId} reported ${name(state)} after ${name(prev)}`);
        last.set(u.taskId ?? '', state);
      }
    }
  }
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-agent-'));
  const kind = storeKind.getStore();
  if (!kind) throw new Error('withWorld outside a store case');
  const w = new World(dir, new FakeExecutor('process'), kind);
  try {
    await fn(w);
    w.checkMonotonic();
  } finally {
    await w.agent?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}



function task(id: string, desiredState = S.TASK_RUNNING, extra: Partial<baton.Task.$Properties> = {}): baton.Task.$Properties {
  return {
    meta: { id, version: 10 },
    serviceId: 'svc-1',
    slot: 1,
    nodeId: NODE,
    annotations: { name: 'web.1' },
    desiredState,
    status: { state: S.TASK_ASSIGNED },
    spec: { runtime: 'process', container: { image: 'img', command: ['sleep', '1000'] } },
    ...extra,
  };
}

async function waitState(w: World, id: string, state: baton.TaskState): Promise<baton.TaskStatus.$Properties> {
  await waitFor(`${id} reported ${name(state)}`, () => w.last(id)?.state === state, POLL);
  return w.last(id)!;
}

/** Opens the agent with a full set of tasks `ids` and waits until each is reported running. */
async function openRunning(w: World, ids: string[]): Promise<void> {
  await w.open();
  w.apply({ full: true, tasks: ids.map((id) => task(id)) });
  for (const id of ids) await waitState(w, id, S.TASK_RUNNING);
}

/** Opens the agent with a full set of `tasks` and waits until the executor holds `op` of `id`. */
async function openHeld(w: World, op: FakeOp, id: string, tasks: baton.Task.$Properties[]): Promise<HeldCall> {
  const held = w.fake.hold(op, id);
  await w.open();
  w.apply({ full: true, tasks });
  await held.reached;
  return held;
}

/** A restarted agent reports `id` running in the executor's container, which was started once. */
async function reopenedRunningOnce(w: World, id: string): Promise<void> {
  await w.open();
  const running = await waitState(w, id, S.TASK_RUNNING);
  assert.match(running.containerId ?? '', /^fake-/);
  assert.equal(w.fake.count('start', id), 1);
}

async function dbTasks(w: World): Promise<string[]> {
  const db = await w.openStore();
  try {
    return (await db.load()).tasks.map((t) => t.meta?.id ?? '');
  } finally {
    await db.close();
  }
}

test('happy path: accepted, preparing, starting, running (container id, ports), complete', async () => {
  await withWorld(async (w) => {
    const prepare = w.fake.hold('prepare', 't1');
    const start = w.fake.hold('start', 't1');
    await w.open();
    const t1 = task('t1', S.TASK_RUNNING, { endpoint: { ports: [{ targetPort: 80, publishedPort: 30080 }, { targetPort: 80, publishedPort: 30081 }] } });
    w.apply({ full: true, tasks: [t1] });
    await prepare.reached;
    await waitState(w, 't1', S.TASK_PREPARING);
    prepare.release();
    await start.reached;
    await waitState(w, 't1', S.TASK_STARTING);
    start.release();
    const running = await waitState(w, 't1', S.TASK_RUNNING);
    assert.match(running.containerId ?? '', /^fake-/);
    assert.deepEqual(running.ports, [{ targetPort: 80, hostPort: 40000, protocol: baton.PortProtocol.TCP }]);
    w.fake.exit('t1', 0);
    const done = await waitState(w, 't1', S.TASK_COMPLETE);
    assert.equal(done.exitCode, 0);
    assert.equal(done.containerId, running.containerId);
    // ACCEPTED and PREPARING fall in one coalescing window, so the managers may see either.
    assert.deepEqual(
      w.reported('t1').filter((s) => s !== 'TASK_ACCEPTED'),
      ['TASK_PREPARING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_COMPLETE'],
    );
    assert.deepEqual(w.logged('t1'), ['TASK_ACCEPTED', 'TASK_PREPARING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_COMPLETE']);
    assert.equal(w.fake.count('start', 't1'), 1);
    assert.deepEqual(w.agent!.runtimes(), ['process']);
  });
});

test('a non-zero exit fails the task with its exit code', async () => {
  await withWorld(async (w) => {
    await w.open();
    w.apply({ full: true, tasks: [task('t1')] });
    await waitState(w, 't1', S.TASK_RUNNING);
    w.fake.exit('t1', 3);
    const failed = await waitState(w, 't1', S.TASK_FAILED);
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.err, 'task exited with code 3');
  });
});

test('a failing prepare rejects the task; so does a runtime with no available executor', async () => {
  await withWorld(async (w) => {
    w.fake.missingImages.add('nope');
    await w.open();
    const noImage = task('t1', S.TASK_RUNNING, { spec: { runtime: 'process', container: { image: 'nope', command: ['x'] } } });
    const docker = task('t2', S.TASK_RUNNING, { spec: { runtime: 'docker', container: { image: 'img' } } });
    w.apply({ full: true, tasks: [noImage, docker] });
    const r1 = await waitState(w, 't1', S.TASK_REJECTED);
    assert.equal(r1.err, 'image nope not found');
    const r2 = await waitState(w, 't2', S.TASK_REJECTED);
    assert.equal(r2.err, 'runtime "docker" is not available on this node');
    assert.equal(w.fake.count('start'), 0);
  });
});

test('a status error of any length reaches the managers cut to its limit, and its acknowledgement clears it from disk', async () => {
  await withWorld(async (w) => {
    const image = 'n'.repeat(100_000);
    w.fake.missingImages.add(image);
    await w.open();
    w.apply({ full: true, tasks: [task('t1', S.TASK_RUNNING, { spec: { runtime: 'process', container: { image, command: ['x'] } } })] });
    const rejected = await waitState(w, 't1', S.TASK_REJECTED);
    assert.equal(rejected.err, `image ${'n'.repeat(MAX_TASK_STATUS_TEXT - 6)}…(${100_000 + 16} bytes)`);
    // The disk held the same (cut) status that was acknowledged, so nothing is left unacknowledged.
    await w.agent!.stop();
    const db = await w.openStore();
    try {
      assert.equal((await db.load()).unacked.size, 0);
    } finally {
      await db.close();
    }
  });
});

test('desired SHUTDOWN stops the task and keeps it; REMOVE removes and forgets it', async () => {
  await withWorld(async (w) => {
    await openRunning(w, ['t1', 't2']);

    w.apply({ tasks: [task('t1', S.TASK_SHUTDOWN, { meta: { id: 't1', version: 11 } })] });
    const down = await waitState(w, 't1', S.TASK_SHUTDOWN);
    assert.notEqual(down.state, S.TASK_FAILED, 'the exit caused by our own shutdown is not a failure');
    assert.equal(w.fake.state('t1'), 'exited');
    assert.ok(w.fake.has('t1'), 'a shut-down task keeps its runtime object (logs) until removed');

    w.apply({ tasks: [task('t1', S.TASK_REMOVE, { meta: { id: 't1', version: 12 } })] });
    await waitFor('t1 removed', () => !w.fake.has('t1'), POLL);
    // Already SHUTDOWN: removal reports nothing more.
    await sleep(120);
    assert.deepEqual(w.reported('t1').slice(-1), ['TASK_SHUTDOWN']);

    // `removed` of a running task: shut down, reported, removed, forgotten.
    w.apply({ removed: ['t2'] });
    await waitState(w, 't2', S.TASK_SHUTDOWN);
    await waitFor('t2 removed', () => !w.fake.has('t2'), POLL);
    assert.ok(w.fake.calls.indexOf('shutdown:t2') < w.fake.calls.indexOf('remove:t2'));
    await sleep(50);
    await w.agent!.stop();
    assert.deepEqual(await dbTasks(w), []);
  });
});

test('a full set without a task stops and forgets it; an identical full set changes nothing', async () => {
  await withWorld(async (w) => {
    await w.open();
    const full = { full: true, tasks: [task('t1'), task('t2')] };
    w.apply(full);
    await waitState(w, 't1', S.TASK_RUNNING);
    await waitState(w, 't2', S.TASK_RUNNING);
    await sleep(120);

    const calls = w.fake.calls.length;
    const reports = w.reports.length;
    w.apply(full);
    // What a dispatcher sends once our reports are in: the same tasks at newer versions.
    w.apply({ full: true, tasks: ['t1', 't2'].map((id) => task(id, S.TASK_RUNNING, { meta: { id, version: 20 }, status: w.last(id) })) });
    await sleep(150);
    assert.equal(w.fake.calls.length, calls, `executor called again: ${w.fake.calls.slice(calls).join(', ')}`);
    assert.equal(w.reports.length, reports);

    w.apply({ full: true, tasks: [task('t2')] });
    await waitState(w, 't1', S.TASK_SHUTDOWN);
    await waitFor('t1 removed', () => !w.fake.has('t1'), POLL);
    assert.equal(w.fake.state('t2'), 'running');
    await sleep(50);
    await w.agent!.stop();
    assert.deepEqual(await dbTasks(w), ['t2']);
  });
});

test('a restarted agent adopts running tasks without starting them again and reports exits that happened meanwhile', async () => {
  await withWorld(async (w) => {
    await openRunning(w, ['t1', 't2']);
    await w.agent!.stop();
    assert.equal(w.fake.state('t1'), 'running', 'stop() leaves tasks running');

    w.fake.exit('t2', 5);
    const reportsBefore = w.reports.length;
    await w.open();
    // No session yet: the exit is reported from the DB and the executor alone.
    const failed = await waitState(w, 't2', S.TASK_FAILED);
    assert.equal(failed.exitCode, 5);
    assert.ok(w.fake.calls.includes('wait:t1'), 'the running task is watched again');
    w.apply({ full: true, tasks: [task('t1'), task('t2')] });
    await sleep(100);
    w.fake.exit('t1', 0);
    await waitState(w, 't1', S.TASK_COMPLETE);
    assert.equal(w.fake.count('start', 't1'), 1);
    assert.equal(w.fake.count('start', 't2'), 1);
    assert.equal(w.fake.count('prepare'), 2);
    assert.ok(!w.reports.slice(reportsBefore).some((b) => b.some((u) => u.status?.state === S.TASK_RUNNING)), 'RUNNING is not reported twice');
  });
});

test('statuses the managers never acknowledged are sent by the next agent', async () => {
  await withWorld(async (w) => {
    w.failReports = Infinity;
    await w.open();
    w.apply({ full: true, tasks: [task('t1')] });
    await waitFor('t1 running in the executor', () => w.fake.state('t1') === 'running', POLL);
    await sleep(100);
    await w.agent!.stop();
    assert.equal(w.reports.length, 0);
    w.failReports = 0;
    await reopenedRunningOnce(w, 't1');
  });
});

test('unknown executor objects are removed only once a full set says they are not assigned', async () => {
  await withWorld(async (w) => {
    w.fake.inject('stray');
    w.fake.inject('mine');
    await w.open();
    await sleep(150);
    w.apply({ tasks: [] }); // changes only: not a verdict on anything
    await sleep(100);
    assert.ok(w.fake.has('stray'), 'no full set yet: nothing is removed');
    assert.equal(w.fake.count('shutdown'), 0);

    // The full set names "mine" (the DB was lost, the manager remembers it running): adopted.
    w.apply({ full: true, tasks: [task('mine', S.TASK_RUNNING, { status: { state: S.TASK_RUNNING } })] });
    await waitFor('stray removed', () => !w.fake.has('stray'), POLL);
    assert.ok(w.fake.calls.indexOf('shutdown:stray') < w.fake.calls.indexOf('remove:stray'));
    assert.equal(w.fake.state('mine'), 'running');
    assert.equal(w.fake.count('start', 'mine'), 0);
    assert.ok(w.fake.calls.includes('wait:mine'));
    w.fake.exit('mine', 0);
    await waitState(w, 'mine', S.TASK_COMPLETE);
  });
});

test('failed reports are retried, batched, latest status per task', async () => {
  await withWorld(async (w) => {
    w.failReports = Infinity;
    await w.open();
    w.apply({ full: true, tasks: [task('a'), task('b'), task('c')] });
    const ids = ['a', 'b', 'c'];
    await waitFor('every task running', () => ids.every((id) => w.logged(id).includes('TASK_RUNNING')), POLL);
    await waitFor('two refused calls', () => w.failedReports >= 2, POLL);
    w.failReports = 0;
    for (const id of ids) await waitState(w, id, S.TASK_RUNNING);
    // Everything decided while the managers were unreachable went in the first call that got
    // through: each task once, at its latest state.
    assert.equal(w.reports.length, 1);
    assert.deepEqual(w.reports[0]!.map((u) => u.taskId).sort(), ids);
    assert.ok(w.reports[0]!.every((u) => u.status?.state === S.TASK_RUNNING));
  });
});

test('a slow prepare holds up no other task', async () => {
  await withWorld(async (w) => {
    const slow = await openHeld(w, 'prepare', 'slow', [task('slow'), task('quick')]);
    await waitState(w, 'quick', S.TASK_RUNNING);
    assert.equal(w.last('slow')?.state, S.TASK_PREPARING);
    slow.release();
    await waitState(w, 'slow', S.TASK_RUNNING);
  });
});

test('200 tasks at once all reach RUNNING, at most 8 preparing or starting at a time, in few report calls', async (t) => {
  await withWorld(async (w) => {
    w.fake.delayMs = 2;
    await w.open();
    const ids = Array.from({ length: 200 }, (_, i) => `task-${i}`);
    w.apply({ full: true, tasks: ids.map((id, i) => task(id, S.TASK_RUNNING, { slot: i + 1, annotations: { name: `web.${i + 1}` } })) });
    await waitFor('every task running', () => ids.every((id) => w.last(id)?.state === S.TASK_RUNNING), { timeoutMs: 30_000, intervalMs: 5 });
    assert.ok(w.fake.maxInFlight <= 8, `${w.fake.maxInFlight} executor calls at once`);
    assert.ok(w.fake.maxInFlight > 1, 'tasks are prepared side by side');
    for (const id of ids) assert.equal(w.fake.count('start', id), 1);
    const updates = w.reports.reduce((n, b) => n + b.length, 0);
    t.diagnostic(`${w.reports.length} report calls carried ${updates} updates; ${w.fake.maxInFlight} executor calls at most at once`);
    assert.ok(w.reports.length <= 40, `${w.reports.length} report calls for ${updates} updates`);
  });
});

test('a start under way when the agent stopped is adopted by the next agent, not repeated', async () => {
  await withWorld(async (w) => {
    const start = await openHeld(w, 'start', 't1', [task('t1')]);
    await w.agent!.stop();
    start.release();
    await waitFor('t1 running in the executor', () => w.fake.state('t1') === 'running', POLL);
    await reopenedRunningOnce(w, 't1');
  });
});

test('after a restart, work not yet started waits for a full set; then it is prepared again and started once', async () => {
  await withWorld(async (w) => {
    const prepare = await openHeld(w, 'prepare', 't1', [task('t1'), task('t2')]);
    await waitState(w, 't2', S.TASK_RUNNING);
    await w.agent!.stop();
    prepare.release();

    const reports = w.reports.length;
    await w.open();
    await sleep(150);
    assert.equal(w.fake.count('start', 't1'), 0, 'held until the managers confirm the assignment');
    assert.equal(w.reports.length, reports);
    w.apply({ full: true, tasks: [task('t1'), task('t2')] });
    await waitState(w, 't1', S.TASK_RUNNING);
    assert.equal(w.fake.count('start', 't1'), 1);
    assert.equal(w.fake.count('start', 't2'), 1);
  });
});

test('desired SHUTDOWN while preparing: shut down without ever starting', async () => {
  await withWorld(async (w) => {
    const prepare = await openHeld(w, 'prepare', 't1', [task('t1')]);
    w.apply({ tasks: [task('t1', S.TASK_SHUTDOWN, { meta: { id: 't1', version: 11 } })] });
    await sleep(20);
    prepare.release();
    await waitState(w, 't1', S.TASK_SHUTDOWN);
    assert.equal(w.fake.count('start', 't1'), 0);
    // A late repeat of the old assignment does not bring it back.
    w.apply({ tasks: [task('t1')] });
    await sleep(120);
    assert.equal(w.fake.count('start', 't1'), 0);
    assert.deepEqual(w.reported('t1').slice(-1), ['TASK_SHUTDOWN']);
  });
});

test('messages with tasks of other nodes or without IDs are ignored; apply never throws', async () => {
  await withWorld(async (w) => {
    await w.open();
    w.apply({ full: true, tasks: [{}, task('other', S.TASK_RUNNING, { nodeId: 'node-2' }), task('t1')], removed: ['nobody'] });
    await waitState(w, 't1', S.TASK_RUNNING);
    assert.equal(w.fake.has('other'), false);
    assert.equal(w.last('other'), undefined);
  });
});

test('logs come from the executor of the task', async () => {
  await withWorld(async (w) => {
    await w.open();
    w.apply({ full: true, tasks: [task('t1')] });
    await waitState(w, 't1', S.TASK_RUNNING);
    w.fake.writeLog('t1', 'hello\n');
    const chunks: string[] = [];
    for await (const c of w.agent!.logs('t1', { follow: false, tail: 0 })) chunks.push(new TextDecoder().decode(c.data));
    assert.deepEqual(chunks, ['hello\n']);
    await assert.rejects(async () => {
      for await (const _ of w.agent!.logs('nope', { follow: false, tail: 0 })) break;
    }, /not on this node/);
  });
});
