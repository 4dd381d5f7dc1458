// The orchestrators, restart supervisor and scheduler against a real ClusterStore, with no
// Raft: LocalHost applies each proposal as the next entry, a ManualClock drives time and the
// restart timers, and the tests play the workers and the node watcher by writing task status
// and node state themselves.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, deleteAction, updateAction } from '../../manager/store/index.js';
import { EXITED_LABEL, RESTARTS_LABEL, ReplicatedOrchestrator } from '../../manager/orchestrator/index.js';
import { DEFAULT_MAX_BATCH } from '../../manager/reconcile/host.js';
import { MAX_REPLICAS } from '../../spec/index.js';
import { Cluster, started, type ServiceOpts } from '../lib/local-cluster.js';

const S = baton.TaskState;

/** A started cluster with service s1 ('web', `opts`) placed and every task of it running. */
async function runningService(opts: ServiceOpts): Promise<Cluster> {
  const c = await started();
  c.addService('s1', 'web', opts);
  await c.settle();
  c.runAll('s1');
  return c;
}

test('replicated: one task per slot, built from the service; the scheduler assigns them', async () => {
  const c = await started();
  c.addService('s1', 'web', { replicas: 3 });
  await c.settle();
  const tasks = c.wanted('s1');
  assert.deepEqual(
    tasks.map((t) => [t.slot, t.annotations?.name]),
    [
      [1, 'web.1'],
      [2, 'web.2'],
      [3, 'web.3'],
    ],
  );
  const svc = c.service('s1');
  for (const t of tasks) {
    assert.match(t.meta.id, /^[0-9a-z]{25}$/);
    assert.equal(t.serviceId, 's1');
    assert.equal(t.specVersion, svc.meta.version);
    assert.equal(t.spec?.container?.image, 'busybox');
    assert.equal(t.endpoint?.ports?.[0]?.publishedPort, 30000);
    assert.equal(t.status?.state, S.TASK_ASSIGNED);
    assert.equal(t.status?.message, 'assigned to node');
  }
  // Spread: two nodes, three tasks → 2 + 1.
  const perNode = new Map<string, number>();
  for (const t of tasks) perNode.set(t.nodeId, (perNode.get(t.nodeId) ?? 0) + 1);
  assert.deepEqual([...perNode.values()].sort(), [1, 2]);
  c.stop();
});

test('replicated: scale up adds slots, scale down stops the highest, scale up again refills at once', async () => {
  const c = await runningService({ replicas: 2, restart: { delayMs: 60_000 } });
  c.scale('s1', 5);
  await c.settle();
  assert.deepEqual(
    c.wanted('s1').map((t) => t.slot),
    [1, 2, 3, 4, 5],
  );
  c.runAll('s1');
  const before = new Map(c.wanted('s1').map((t) => [t.slot, t.meta.id]));
  c.scale('s1', 2);
  await c.settle();
  assert.deepEqual(
    c.wanted('s1').map((t) => t.slot),
    [1, 2],
  );
  for (const t of c.tasks('s1')) {
    if (t.slot > 2) assert.equal(t.desiredState, S.TASK_SHUTDOWN, `slot ${t.slot} stopped`);
    else assert.equal(t.meta.id, before.get(t.slot), `slot ${t.slot} untouched`);
  }
  c.shutDownAll('s1');
  await c.settle();
  // Stopped by us, not ended on its own: no restart delay applies to a scale-up.
  c.scale('s1', 3);
  await c.settle();
  assert.deepEqual(
    c.wanted('s1').map((t) => t.slot),
    [1, 2, 3],
  );
  assert.notEqual(c.wanted('s1')[2]?.meta.id, before.get(3));
  c.stop();
});

test('replicated: a task that never reached a node is deleted on scale-down', async () => {
  const c = await started({}, []);
  c.addService('s1', 'web', { replicas: 3 });
  await c.settle();
  assert.equal(c.tasks('s1').length, 3);
  assert.ok(c.tasks('s1').every((t) => t.status?.state === S.TASK_PENDING));
  c.scale('s1', 1);
  await c.settle();
  assert.deepEqual(
    c.tasks('s1').map((t) => t.slot),
    [1],
  );
  c.stop();
});

test('batching: scaling to 100 takes a few proposals; larger passes are split at maxBatch', async () => {
  // The passes' time slice (wall time) is not this test's: on a loaded machine it cut them
  // into more proposals than counted here.
  const noSlice = { sliceMs: 3_600_000 };
  const c = await started(noSlice, ['n1', 'n2', 'n3']);
  c.addService('s1', 'web', { replicas: 1 });
  await c.settle();
  const before = c.host.proposals;
  c.scale('s1', 100);
  await c.settle();
  assert.equal(c.wanted('s1').length, 100);
  assert.ok(c.wanted('s1').every((t) => t.nodeId !== ''));
  const used = c.host.proposals - before;
  assert.ok(used <= 3, `scale to 100 took ${used} proposals`);
  c.stop();

  const small = await started({ maxBatch: 30, ...noSlice }, ['n1']);
  small.addService('s1', 'web', { replicas: 100 });
  await small.settle();
  assert.equal(small.wanted('s1').length, 100);
  // 100 creates in batches of 30 (4) and 100 assignments in batches of 30 (4), give or take a pass.
  assert.ok(small.host.proposals >= 8 && small.host.proposals <= 10, `${small.host.proposals} proposals`);
  small.stop();
});

test('restart: a failed task is replaced in its slot after the delay, until max attempts', async () => {
  const c = await runningService({ replicas: 1, restart: { condition: baton.RestartCondition.RESTART_ANY, delayMs: 5_000, maxAttempts: 2 } });
  const first = c.only('s1');
  c.report(first.meta.id, S.TASK_FAILED, { exitCode: 1, err: 'exit 1' });
  await c.settle();
  const failed = c.store.get('task', first.meta.id);
  assert.equal(failed?.desiredState, S.TASK_SHUTDOWN, 'marked desired SHUTDOWN');
  assert.equal(failed?.annotations?.labels?.[EXITED_LABEL], String(c.clock.now()));
  assert.equal(c.wanted('s1').length, 0, 'slot empty during the delay');
  await c.elapse(4_999);
  assert.equal(c.wanted('s1').length, 0, 'not before the delay');
  await c.elapse(1);
  const second = c.only('s1');
  assert.equal(second.slot, 1);
  assert.equal(second.annotations?.name, 'web.1');
  assert.equal(second.annotations?.labels?.[RESTARTS_LABEL]?.split(',').length, 1);

  c.runAll('s1');
  c.report(second.meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  await c.elapse(5_000);
  const third = c.only('s1');
  assert.equal(third.annotations?.labels?.[RESTARTS_LABEL]?.split(',').length, 2);

  c.runAll('s1');
  c.report(third.meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  await c.elapse(60_000);
  assert.equal(c.wanted('s1').length, 0, 'attempts exhausted: the slot stays empty');
  const last = c.store.get('task', third.meta.id);
  assert.match(last?.status?.message ?? '', /restart attempts exhausted \(2 of max 2\)/);
  assert.equal(last?.status?.state, S.TASK_FAILED);
  assert.equal(c.clock.pending, 0, 'no timer left waiting');

  // A service update starts afresh (as `docker service update` does).
  c.updateService('s1', (s) => (s.spec = { ...s.spec, annotations: { ...s.spec?.annotations, labels: { v: '2' } } }));
  await c.settle();
  assert.equal(c.wanted('s1').length, 1);
  c.stop();
});

test('restart window: only restarts within the window count', async () => {
  const c = await runningService({ replicas: 1, restart: { delayMs: 1_000, maxAttempts: 1, windowMs: 10_000 } });
  c.report(c.only('s1').meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  await c.elapse(1_000);
  c.runAll('s1');
  // The first restart is 20 s old when this one fails: outside the window, so it may restart.
  c.clock.advance(20_000);
  c.report(c.only('s1').meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  await c.elapse(1_000);
  c.runAll('s1');
  // This one fails 1 s after its restart: inside the window, the one attempt is used up.
  c.report(c.only('s1').meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  await c.elapse(5_000);
  assert.equal(c.wanted('s1').length, 0);
  assert.equal(c.tasks('s1').length, 3);
  c.stop();
});

test('restart conditions: on-failure restarts failures and non-zero exits, not exit 0; none never', async () => {
  const c = await started();
  const onFailure = { condition: baton.RestartCondition.RESTART_ON_FAILURE, delayMs: 100 };
  c.addService('ok', 'ok', { replicas: 1, restart: onFailure });
  c.addService('code', 'code', { replicas: 1, restart: onFailure });
  c.addService('fail', 'fail', { replicas: 1, restart: onFailure });
  c.addService('none', 'none', { replicas: 1, restart: { condition: baton.RestartCondition.RESTART_NONE, delayMs: 100 } });
  c.addService('any', 'any', { replicas: 1, restart: { delayMs: 100 } });
  await c.settle();
  for (const s of ['ok', 'code', 'fail', 'none', 'any']) c.runAll(s);
  c.report(c.only('ok').meta.id, S.TASK_COMPLETE, { exitCode: 0 });
  c.report(c.only('code').meta.id, S.TASK_SHUTDOWN, { exitCode: 2 });
  c.report(c.only('fail').meta.id, S.TASK_FAILED, { err: 'image not found' });
  c.report(c.only('none').meta.id, S.TASK_FAILED, { exitCode: 1 });
  c.report(c.only('any').meta.id, S.TASK_COMPLETE, { exitCode: 0 });
  await c.settle();
  await c.elapse(100);
  assert.equal(c.wanted('ok').length, 0, 'exit 0 under on-failure: done');
  assert.equal(c.wanted('code').length, 1, 'non-zero exit under on-failure: restarted');
  assert.equal(c.wanted('fail').length, 1, 'FAILED under on-failure: restarted');
  assert.equal(c.wanted('none').length, 0, 'condition none: never');
  assert.equal(c.wanted('any').length, 1, 'condition any: even exit 0');
  for (const s of ['ok', 'none']) {
    const t = c.tasks(s)[0]!;
    assert.equal(t.desiredState, S.TASK_SHUTDOWN);
    assert.ok(t.annotations?.labels?.[EXITED_LABEL], 'the supervisor saw it end');
  }
  c.stop();
});

test('task history retention: at most 5 finished tasks per slot, oldest deleted first', async () => {
  const c = await started();
  c.addService('s1', 'web', { replicas: 1, restart: { delayMs: 10 } });
  await c.settle();
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    c.runAll('s1');
    const t = c.only('s1');
    ids.push(t.meta.id);
    c.clock.advance(1_000);
    c.report(t.meta.id, S.TASK_FAILED, { exitCode: 1 });
    await c.settle();
    await c.elapse(10);
  }
  const tasks = c.tasks('s1');
  const finished = tasks.filter((t) => t.desiredState !== S.TASK_RUNNING);
  assert.equal(finished.length, 5);
  assert.equal(tasks.length, 6);
  assert.deepEqual(finished.map((t) => t.meta.id).sort(), ids.slice(3).sort(), 'the 5 newest are kept');
  c.stop();
});

test('node down: its tasks are orphaned and replaced at once on another node', async () => {
  const c = await runningService({ replicas: 1, restart: { delayMs: 60_000 } });
  const t = c.only('s1');
  const other = t.nodeId === 'n1' ? 'n2' : 'n1';
  c.setNodeState(t.nodeId, baton.NodeState.NODE_DOWN);
  await c.settle();
  const orphan = c.store.get('task', t.meta.id);
  assert.equal(orphan?.status?.state, S.TASK_ORPHANED);
  assert.equal(orphan?.status?.message, 'node down');
  assert.equal(orphan?.desiredState, S.TASK_SHUTDOWN);
  const replacement = c.only('s1');
  assert.equal(replacement.slot, 1);
  assert.equal(replacement.nodeId, other, 'placed on the node that is up, without waiting for the restart delay');
  c.stop();
});

test('drain: tasks on a drained node are stopped and replaced elsewhere; pause only stops new ones', async () => {
  const c = await runningService({ replicas: 4 });
  c.setAvailability('n2', baton.NodeAvailability.PAUSE);
  await c.settle();
  assert.equal(c.wanted('s1').filter((t) => t.nodeId === 'n2').length, 2, 'pause keeps running tasks');
  c.setAvailability('n2', baton.NodeAvailability.DRAIN);
  await c.settle();
  const wanted = c.wanted('s1');
  assert.deepEqual(
    wanted.map((t) => t.slot),
    [1, 2, 3, 4],
  );
  assert.ok(
    wanted.every((t) => t.nodeId === 'n1'),
    'all on n1',
  );
  const stopped = c.tasks('s1').filter((t) => t.desiredState === S.TASK_SHUTDOWN);
  assert.equal(stopped.length, 2);
  assert.ok(stopped.every((t) => t.nodeId === 'n2'));
  c.stop();
});

test('global: one task per eligible node, following adds, drains, downs and constraints', async () => {
  const c = await started();
  c.addService('g', 'agent', { global: true, constraints: ['node.labels.zone!=b'] });
  await c.settle();
  const wanted = c.wanted('g');
  assert.deepEqual(
    wanted.map((t) => t.nodeId),
    ['n1', 'n2'],
  );
  for (const t of wanted) {
    assert.equal(t.slot, 0);
    assert.equal(t.status?.state, S.TASK_ASSIGNED);
    assert.equal(t.annotations?.name, `agent.${t.nodeId}`);
  }
  c.runAll('g');
  c.addNode('n3');
  c.addNode('n4', { labels: { zone: 'b' } });
  c.addNode('n5', { runtimes: ['process'] });
  await c.settle();
  assert.deepEqual(
    c.wanted('g').map((t) => t.nodeId),
    ['n1', 'n2', 'n3'],
    'not on zone b, not without docker',
  );
  c.runAll('g');

  c.setAvailability('n2', baton.NodeAvailability.DRAIN);
  c.setNodeState('n1', baton.NodeState.NODE_DOWN);
  c.updateNode('n3', (n) => (n.spec = { ...n.spec, annotations: { labels: { zone: 'b' } } }));
  await c.settle();
  assert.deepEqual(c.wanted('g'), [], 'drained, down and no-longer-matching nodes keep no task');
  const byNode = new Map(c.tasks('g').map((t) => [t.nodeId, t]));
  assert.equal(byNode.get('n1')?.status?.state, S.TASK_ORPHANED);
  assert.equal(byNode.get('n2')?.desiredState, S.TASK_SHUTDOWN);
  assert.equal(byNode.get('n3')?.desiredState, S.TASK_SHUTDOWN);

  c.setNodeState('n1', baton.NodeState.NODE_READY);
  c.setAvailability('n2', baton.NodeAvailability.ACTIVE);
  await c.settle();
  assert.deepEqual(
    c.wanted('g').map((t) => t.nodeId),
    ['n1', 'n2'],
    'back at once',
  );

  // A removed node's tasks go with it.
  c.host.apply([deleteAction('node', { meta: { id: 'n3' } })]);
  await c.settle();
  assert.equal(
    c.tasks('g').filter((t) => t.nodeId === 'n3').length,
    0,
  );
  c.stop();
});

test('global: a failed task restarts on the same node after the delay', async () => {
  const c = await started();
  c.addService('g', 'agent', { global: true, restart: { delayMs: 2_000 } });
  await c.settle();
  c.runAll('g');
  const onN1 = c.wanted('g').find((t) => t.nodeId === 'n1')!;
  c.report(onN1.meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  assert.equal(c.wanted('g').length, 1);
  await c.elapse(2_000);
  const again = c.wanted('g').find((t) => t.nodeId === 'n1');
  assert.ok(again && again.meta.id !== onN1.meta.id);
  assert.equal(again.status?.state, S.TASK_ASSIGNED);
  c.stop();
});

test('service removed: running tasks are told to go, unassigned and finished ones are deleted', async () => {
  const c = await started({}, ['n1']);
  c.addService('s1', 'web', { replicas: 2, constraints: ['node.hostname!=n1'] });
  c.addService('s2', 'api', { replicas: 1, restart: { condition: baton.RestartCondition.RESTART_NONE } });
  c.addService('g', 'agent', { global: true });
  await c.settle();
  c.runAll('s2');
  c.runAll('g');
  const api = c.only('s2');
  c.report(api.meta.id, S.TASK_COMPLETE);
  c.scale('s2', 2);
  await c.settle();
  c.runAll('s2');
  assert.equal(c.tasks('s1').length, 2, 'unschedulable tasks pending');
  assert.equal(c.tasks('s2').length, 3, 'the scale refilled slot 1 too (a service update starts afresh)');
  c.host.apply([deleteAction('service', { meta: { id: 's1' } }), deleteAction('service', { meta: { id: 's2' } }), deleteAction('service', { meta: { id: 'g' } })]);
  await c.settle();
  assert.equal(c.tasks('s1').length, 0);
  const left = c.tasks('s2');
  assert.equal(left.length, 2, 'the finished one is gone');
  assert.ok(left.every((t) => t.desiredState === S.TASK_REMOVE));
  assert.equal(c.tasks('g')[0]?.desiredState, S.TASK_REMOVE);
  // Its node goes down: nobody will report it, so it is deleted.
  c.setNodeState('n1', baton.NodeState.NODE_DOWN);
  await c.settle();
  assert.equal(c.tasks('s2').length, 0);
  assert.equal(c.tasks('g').length, 0);
  c.stop();
});

test('leader change: fresh loops converge without duplicates and keep a pending restart delay', async () => {
  const c = await started();
  c.addService('s1', 'web', { replicas: 3, restart: { delayMs: 10_000 } });
  c.addService('g', 'agent', { global: true });
  await c.settle();
  c.runAll('s1');
  c.runAll('g');
  const failed = c.wanted('s1')[0]!;
  c.report(failed.meta.id, S.TASK_FAILED, { exitCode: 1 });
  await c.settle();
  c.stop();
  assert.equal(c.clock.pending, 0, 'stop() clears the restart timer');
  const snapshot = c.store.list('task').map((t) => t.meta.id);

  // The new leader takes over 4 s later; the restart is due 6 s after that, not before.
  c.clock.advance(4_000);
  const before = c.host.proposals;
  c.start();
  await c.settle();
  assert.equal(c.host.proposals, before, 'nothing to write: no duplicates, no churn');
  assert.deepEqual(
    c.store.list('task').map((t) => t.meta.id),
    snapshot,
  );
  await c.elapse(5_999);
  assert.equal(c.wanted('s1').length, 2);
  await c.elapse(1);
  assert.deepEqual(
    c.wanted('s1').map((t) => t.slot),
    [1, 2, 3],
  );
  c.stop();

  // A leader that comes after the delay has passed restarts at once.
  c.runAll('s1');
  c.report(c.wanted('s1')[1]!.meta.id, S.TASK_FAILED, { exitCode: 1 });
  c.clock.advance(60_000);
  c.start();
  await c.settle();
  assert.deepEqual(
    c.wanted('s1').map((t) => t.slot),
    [1, 2, 3],
  );
  c.stop();
});

test('a store reset (snapshot restore) triggers a full reconcile', async () => {
  const c = await started();
  c.addService('s1', 'web', { replicas: 2 });
  await c.settle();
  const snap = c.store.snapshot();
  c.stop();
  // Elsewhere the service scaled; this manager catches up from that snapshot.
  const other = new Cluster();
  other.store.restore(snap);
  other.host.index = 100;
  const s = cloneObject('service', other.store.get('service', 's1')!);
  s.spec = { ...s.spec, replicas: 4 };
  other.host.apply([updateAction('service', s)]);
  c.start();
  c.store.restore(other.store.snapshot());
  c.host.index = other.host.index;
  await c.settle();
  assert.equal(c.wanted('s1').length, 4);
  c.stop();
});

test('a version conflict is retried against a fresh read', async () => {
  const c = new Cluster();
  c.addNode('n1');
  const propose = c.host.propose.bind(c.host);
  let raced = false;
  // The first write after the service exists races with a status report on the same task.
  c.host.propose = async (actions) => {
    const task = c.store.list('task')[0];
    if (!raced && task !== undefined) {
      raced = true;
      c.report(task.meta.id, S.TASK_PENDING, { message: 'touched by someone else' });
    }
    return propose(actions);
  };
  c.start();
  c.addService('s1', 'web', { replicas: 2 });
  await c.settle();
  assert.ok(raced);
  assert.equal(c.wanted('s1').length, 2);
  assert.ok(c.wanted('s1').every((t) => t.status?.state === S.TASK_ASSIGNED));
  c.stop();
});

test('stop() ends everything: no writes after it, no timers left', async () => {
  const c = await runningService({ replicas: 1, restart: { delayMs: 1_000 } });
  c.report(c.only('s1').meta.id, S.TASK_FAILED);
  await c.settle();
  assert.ok(c.clock.pending > 0);
  c.stop();
  assert.equal(c.clock.pending, 0);
  const index = c.host.index;
  c.scale('s1', 3);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(c.host.index, index + 1, 'only the test wrote');
});

test('a service at the replica limit is created in bounded passes, each at most maxBatch tasks, until all exist', async () => {
  const c = await started({}, ['n1', 'n2', 'n3']);
  const replicated = c.loops[0];
  assert.ok(replicated instanceof ReplicatedOrchestrator);
  c.addService('s1', 'big', { replicas: MAX_REPLICAS });
  await c.settle();
  assert.equal(c.wanted('s1').length, MAX_REPLICAS);
  assert.deepEqual(new Set(c.wanted('s1').map((t) => t.slot)).size, MAX_REPLICAS, 'one task per slot');
  // No pass built more than one batch: the loop went on in later passes instead.
  assert.ok(replicated.stats.largestPass <= DEFAULT_MAX_BATCH, `largest pass ${replicated.stats.largestPass}`);
  assert.ok(replicated.stats.passes >= MAX_REPLICAS / DEFAULT_MAX_BATCH, `${replicated.stats.passes} passes`);
  c.stop();
});

test('a replica count above the limit, stored before the limits existed, runs the limit and the leader survives it', async () => {
  const c = await started({ maxBatch: 500 }, ['n1']);
  const replicated = c.loops[0];
  assert.ok(replicated instanceof ReplicatedOrchestrator);
  // 2^64-1 decoded and re-encoded used to become 0; 1e20 became 7766279631452241920: store the latter.
  c.addService('s1', 'wrapped', { replicas: 7766279631452241920 });
  await c.settle();
  assert.equal(c.wanted('s1').length, MAX_REPLICAS);
  assert.ok(replicated.stats.largestPass <= 500, `largest pass ${replicated.stats.largestPass}`);
  c.stop();
});
