// What the replicated orchestrator's work is proportional to (issue 17). At 10,000 replicas a
// service's tasks report Preparing, Starting and Running by the thousand each second; each
// report's pass read (scanned) all 10,000 tasks of its service, and creating the service (200
// tasks a pass) looked at every existing slot again on each pass. Now a pass reads the slots
// that changed from a view kept from the store's changes, a pass cut short goes on from where it
// stopped, and a pass stops at its share of tasks (or its time slice) inside a service too.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { ClusterStore, createAction, deleteAction, updateAction, cloneObject, type Stored } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { SlotView } from '../../manager/orchestrator/slot-view.js';
import { started } from '../lib/local-cluster.js';

const S = baton.TaskState;

type Stats = { instancesVisited: number; mostTasksRead: number; passes: number };

function orchestrator(c: Awaited<ReturnType<typeof started>>): Stats {
  const l = c.loops.find((x) => x.name === 'replicated-orchestrator');
  assert.ok(l, 'the replicated orchestrator runs');
  return l.stats;
}

test('creating 1,000 replicas (200 a pass) looks at a slot per change of it, not at every slot on every pass', async () => {
  // No node: the tasks stay pending, so the only slot changes are the orchestrator's own.
  const c = await started({}, []);
  const stats = orchestrator(c);
  const before = stats.instancesVisited;
  c.addService('s1', 'web', { replicas: 1_000 });
  await c.settle();
  assert.equal(c.wanted('s1').length, 1_000, 'every slot has its task');
  assert.deepEqual(new Set(c.wanted('s1').map((t) => t.slot)).size, 1_000, 'one task per slot');
  const visited = stats.instancesVisited - before;
  // Each slot once to fill it, once more for its new task's create event (a slot could have
  // been filled twice); the old way looked at 200 + 400 + ... + 1,000 = 3,000 slots to fill.
  assert.ok(visited <= 2_010, `slots looked at to create 1,000: ${visited}`);
  c.stop();
});

test("a status report reads its slot's tasks, not its service's", async () => {
  const c = await started({}, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 500 });
  await c.settle();
  c.runAll('s1');
  await c.settle();
  const stats = orchestrator(c);
  stats.mostTasksRead = 0;
  const [a, b] = c.wanted('s1');
  c.report(a!.meta.id, S.TASK_FAILED, { err: 'exit 1' });
  await c.settle();
  c.report(b!.meta.id, S.TASK_RUNNING, { message: 'still running' });
  await c.settle();
  // One slot (its failed task, then its replacement beside it): not the 500 of the service.
  assert.ok(stats.mostTasksRead > 0 && stats.mostTasksRead <= 3, `most tasks one pass read: ${stats.mostTasksRead}`);
  await c.elapse(10_000);
  assert.equal(c.wanted('s1').length, 500, 'the failed task was replaced after its restart delay');
  assert.equal(c.wanted('s1').filter((t) => t.slot === a!.slot).length, 1, 'in its own slot');
  c.stop();
});

test('a pass stops at its share of tasks inside one service, and the next goes on from there', async () => {
  const c = await started({ maxTasksPerPass: 50 }, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 400, restart: { delayMs: 60_000 } });
  await c.settle();
  c.runAll('s1');
  await c.settle();
  const onN1 = c.wanted('s1').filter((t) => t.nodeId === 'n1').length;
  assert.ok(onN1 > 50, `enough tasks on n1 to need several passes (${onN1})`);
  const stats = orchestrator(c);
  stats.mostTasksRead = 0;
  const passes = stats.passes;
  c.setNodeState('n1', baton.NodeState.NODE_DOWN);
  await c.settle();
  // The node's change marks its tasks' slots (~200): each pass reads about 50 of them.
  assert.ok(stats.mostTasksRead >= 1 && stats.mostTasksRead <= 52, `most tasks one pass read: ${stats.mostTasksRead}`);
  assert.ok(stats.passes - passes >= Math.ceil(onN1 / 52), `passes: ${stats.passes - passes}`);
  const wanted = c.wanted('s1');
  assert.equal(wanted.length, 400, 'every slot has a wanted task');
  assert.ok(wanted.every((t) => t.nodeId === 'n2'), 'all on the node that is up');
  assert.equal(c.tasks('s1').filter((t) => t.status?.state === S.TASK_ORPHANED).length, onN1, 'every task on n1 orphaned, once');
  c.stop();
});

test('a new leader (the loops restarted) reconciles from its full pass in slices: a scale to 1,200 and a lost node', async () => {
  const c = await started({ maxTasksPerPass: 100 }, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 300 });
  c.addService('s2', 'api', { replicas: 300 });
  await c.settle();
  c.runAll('s1');
  c.runAll('s2');
  await c.settle();
  // While no leader runs the loops: n1 goes down, s1 is scaled up and s2 down.
  c.stop();
  c.setNodeState('n1', baton.NodeState.NODE_DOWN);
  c.scale('s1', 1_200);
  c.scale('s2', 100);
  c.start();
  await c.settle();
  const stats = orchestrator(c);
  // About 100 a pass, plus (once per service and term) its tasks read from the store to group
  // them by slot: 300. The old way read 1,350 in one pass.
  assert.ok(stats.mostTasksRead <= 402, `most tasks one pass read: ${stats.mostTasksRead}`);
  assert.ok(stats.passes >= 10, `passes: ${stats.passes}`);
  const s1 = c.wanted('s1');
  assert.equal(s1.length, 1_200, 's1 has 1,200 wanted tasks');
  assert.equal(new Set(s1.map((t) => t.slot)).size, 1_200, 'one per slot');
  assert.ok(s1.every((t) => t.nodeId !== 'n1'), 'none on the lost node');
  const s2 = c.wanted('s2');
  assert.equal(s2.length, 100, 's2 has 100 wanted tasks');
  assert.ok(s2.every((t) => t.slot >= 1 && t.slot <= 100 && t.nodeId === 'n2'), 's2: slots 1..100, on n2');
  c.stop();
});

test('with a time slice of 1 ms the loops reach the same state', async () => {
  const c = await started({ sliceMs: 1 }, ['n1', 'n2', 'n3']);
  c.addService('s1', 'web', { replicas: 2_000 });
  await c.settle();
  c.runAll('s1');
  await c.settle();
  c.setNodeState('n1', baton.NodeState.NODE_DOWN);
  await c.settle();
  const wanted = c.wanted('s1');
  assert.equal(wanted.length, 2_000);
  assert.equal(new Set(wanted.map((t) => t.slot)).size, 2_000, 'one wanted task per slot');
  assert.ok(wanted.every((t) => t.nodeId === 'n2' || t.nodeId === 'n3'));
  c.stop();
});

test('the slot view follows creates, updates, deletes and a snapshot restore', () => {
  const host = new LocalHost();
  const store: ClusterStore = host.store;
  const view = new SlotView(store);
  store.onChange((e) => (e.action === 'reset' ? view.clear() : view.apply(e)));
  const task = (id: string, serviceId: string, slot: number): baton.Task.$Properties => ({ meta: { id }, serviceId, slot, nodeId: '', desiredState: S.TASK_RUNNING, status: { state: S.TASK_PENDING } });
  const grouped = (): string => {
    const want = new Map<string, string[]>();
    for (const t of store.list('task')) want.set(`${t.serviceId}/${t.slot}`, [...(want.get(`${t.serviceId}/${t.slot}`) ?? []), t.meta.id]);
    const got = new Map<string, string[]>();
    for (const sid of new Set(store.list('task').map((t) => t.serviceId))) {
      for (const [slot, ts] of view.slotsOf(sid) ?? []) got.set(`${sid}/${slot}`, ts.map((t) => t.meta.id));
    }
    assert.deepEqual(got, want);
    return [...got.keys()].sort().join(' ');
  };
  const ids: string[] = [];
  const create = (i: number): void => {
    const id = `t${String((i * 37) % 60).padStart(2, '0')}`;
    ids.push(id);
    host.apply([createAction('task', task(id, `s${i % 3}`, 1 + (i % 7)))]);
  };
  // Half before the view makes its services from the store, half after (kept from changes).
  for (let i = 0; i < 30; i++) create(i);
  const read = view.read;
  grouped();
  assert.equal(view.read - read, 30, 'each service made once, from the store');
  for (let i = 30; i < 60; i++) create(i);
  grouped();
  assert.equal(view.read - read, 30, 'then kept from the changes');
  for (const id of ids.slice(0, 20)) {
    const t = cloneObject('task', store.get('task', id)!);
    t.status = { state: S.TASK_RUNNING };
    host.apply([updateAction('task', t)]);
  }
  for (const id of ids.slice(20, 35)) host.apply([deleteAction('task', store.get('task', id)!)]);
  grouped();
  assert.equal(view.tasksIn('s0', 1).every((t: Stored<'task'>) => store.get('task', t.meta.id) === t), true, 'the stored objects themselves');
  const snap = store.snapshot();
  host.apply([deleteAction('task', store.get('task', ids[40]!)!)]);
  store.restore(snap);
  assert.equal(grouped(), grouped());
  assert.ok(view.tasksIn(store.get('task', ids[40]!)!.serviceId, store.get('task', ids[40]!)!.slot).some((t) => t.meta.id === ids[40]), 'the restored task is back');
});
