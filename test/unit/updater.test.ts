// The rolling updater with the orchestrators and scheduler on a real ClusterStore (no Raft):
// the tests play the workers (task status, health) and drive time with a ManualClock.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { MESH_DRAIN_LABEL, type Stored } from '../../manager/store/index.js';
import { MESH_DRAIN_MS } from '../../manager/orchestrator/update/config.js';
import { Cluster, started, type ServiceOpts } from '../lib/local-cluster.js';

const S = baton.TaskState;
const U = baton.UpdateState;
const H = baton.HealthState;
const A = baton.UpdateFailureAction;

const envOf = (t: Stored<'task'>): string => (t.spec?.container?.env ?? []).join(',');

function status(c: Cluster, id: string): baton.UpdateState {
  return c.service(id).updateStatus?.state ?? U.UPDATE_NONE;
}

/** Wanted tasks whose env is `env`, by slot. */
function withEnv(c: Cluster, id: string, env: string): Stored<'task'>[] {
  return c.wanted(id).filter((t) => envOf(t) === env);
}

/** Wanted tasks taken out of the routing mesh, still running, before they are stopped. */
function draining(c: Cluster, id: string): Stored<'task'>[] {
  return c.wanted(id).filter((t) => t.annotations?.labels?.[MESH_DRAIN_LABEL] !== undefined);
}

/** Tasks told to stop by the update and not yet reported stopped. */
function stopping(c: Cluster, id: string): Stored<'task'>[] {
  return c
    .tasks(id)
    .filter((t) => t.desiredState === S.TASK_SHUTDOWN && (t.status?.state ?? 0) < S.TASK_COMPLETE)
    .sort((a, b) => a.slot - b.slot);
}

/** The workers stop what they are told to stop, and start what they are given. */
async function workersAct(c: Cluster, id: string): Promise<void> {
  c.shutDownAll(id);
  await c.settle();
  c.runAll(id);
  await c.settle();
}

async function running(c: Cluster, id: string): Promise<void> {
  await c.settle();
  c.runAll(id);
  await c.settle();
}

/**
 * A started cluster running service 's' (env V=1 and `opts`), whose spec then changes to V=2;
 * with `act`, the workers then play the first batch of the update.
 */
async function updateStarted(opts: ServiceOpts, act = true): Promise<Cluster> {
  const c = await started();
  c.addService('s', 'web', { env: ['V=1'], ...opts });
  await running(c, 's');
  c.updateSpec('s', (s) => (s.task!.container!.env = ['V=2']));
  await c.settle();
  if (act) await workersAct(c, 's');
  return c;
}

test('stop-first, parallelism 2, delay: old tasks stopped two at a time, slots refilled once stopped, delay between batches, completed after the monitor', async () => {
  const c = await started();
  c.addService('s', 'web', { replicas: 6, env: ['V=1'], update: { parallelism: 2, delayMs: 10_000, monitorMs: 5_000 } });
  await running(c, 's');
  const original = new Map(c.wanted('s').map((t) => [t.slot, t.meta.id]));
  c.updateSpec('s', (s) => (s.task!.container!.env = ['V=2']));
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATING);
  assert.equal(stopping(c, 's').length, 2, 'first batch: two old tasks told to stop');
  assert.deepEqual(stopping(c, 's').map((t) => t.slot), [1, 2]);
  assert.equal(withEnv(c, 's', 'V=2').length, 0, 'stop-first: nothing new before the old ones stopped');

  await workersAct(c, 's');
  assert.deepEqual(withEnv(c, 's', 'V=2').map((t) => t.slot), [1, 2]);
  assert.equal(stopping(c, 's').length, 0, 'the next batch waits for the delay');
  await c.elapse(9_999);
  assert.equal(stopping(c, 's').length, 0);
  await c.elapse(1);
  assert.deepEqual(stopping(c, 's').map((t) => t.slot), [3, 4]);
  await workersAct(c, 's');
  await c.elapse(10_000);
  assert.deepEqual(stopping(c, 's').map((t) => t.slot), [5, 6]);
  await workersAct(c, 's');
  assert.equal(withEnv(c, 's', 'V=2').length, 6);
  assert.equal(status(c, 's'), U.UPDATING, 'the last batch is monitored first');
  await c.elapse(5_000);
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  assert.equal(c.service('s').updateStatus?.message, 'update completed');
  // Each slot replaced exactly once: its old task and one new one.
  for (let slot = 1; slot <= 6; slot++) {
    const tasks = c.tasks('s').filter((t) => t.slot === slot);
    assert.equal(tasks.length, 2, `slot ${slot}`);
    assert.ok(tasks.some((t) => t.meta.id === original.get(slot) && t.status?.state === S.TASK_SHUTDOWN));
  }
  assert.equal(c.clock.pending, 0, 'no timer left');

  // A failure after the monitor window is the restart policy's business, not the update's.
  c.report(c.wanted('s')[0]!.meta.id, S.TASK_FAILED, { err: 'late' });
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  c.stop();
});

test('start-first: the new task starts beside the old one, which leaves the mesh once the new one is up (health checks passed) and stops MESH_DRAIN_MS later', async () => {
  const c = await updateStarted({ replicas: 2, update: { parallelism: 1, order: baton.UpdateOrder.START_FIRST, monitorMs: 1_000 } }, false);
  const fresh = withEnv(c, 's', 'V=2');
  assert.deepEqual(fresh.map((t) => t.slot), [1], 'one new task, in slot 1');
  assert.equal(withEnv(c, 's', 'V=1').length, 2, 'the old one keeps running beside it (the orchestrator does not stop it)');
  c.report(fresh[0]!.meta.id, S.TASK_RUNNING, { health: H.HEALTH_STARTING });
  await c.settle();
  assert.equal(withEnv(c, 's', 'V=1').length, 2, 'starting its health checks is not up yet');
  assert.equal(draining(c, 's').length, 0, 'nothing leaves the mesh before its replacement is up');
  c.report(fresh[0]!.meta.id, S.TASK_RUNNING, { health: H.HEALTH_HEALTHY });
  await c.settle();
  assert.deepEqual(draining(c, 's').map((t) => [t.slot, envOf(t)]), [[1, 'V=1']], 'the old task of slot 1 leaves the mesh, still running');
  assert.equal(withEnv(c, 's', 'V=1').length, 2);
  await c.elapse(MESH_DRAIN_MS - 1);
  assert.equal(withEnv(c, 's', 'V=1').length, 2, 'not stopped before the drain ends');
  await c.elapse(1);
  assert.deepEqual(withEnv(c, 's', 'V=1').map((t) => t.slot), [2], 'slot 1 switched');
  assert.deepEqual(withEnv(c, 's', 'V=2').map((t) => t.slot), [1, 2], 'slot 2 started (no delay)');
  await workersAct(c, 's');
  assert.deepEqual(draining(c, 's').map((t) => [t.slot, envOf(t)]), [[2, 'V=1']], 'slot 2 up: its old task leaves the mesh in turn');
  await c.elapse(MESH_DRAIN_MS);
  await workersAct(c, 's');
  assert.deepEqual(c.wanted('s').map((t) => [t.slot, envOf(t)]), [
    [1, 'V=2'],
    [2, 'V=2'],
  ]);
  await c.elapse(1_000);
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  c.stop();
});

test('failure action pause: the update stops at the first failed task, with the reason; updating again resumes it', async () => {
  const c = await updateStarted({ replicas: 4, update: { parallelism: 1, delayMs: 30_000 } });
  const [bad] = withEnv(c, 's', 'V=2');
  c.report(bad!.meta.id, S.TASK_FAILED, { exitCode: 1, err: 'task exited with code 1' });
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATE_PAUSED);
  assert.equal(c.service('s').updateStatus?.message, `update paused due to failure or early termination of task ${bad!.meta.id}: task exited with code 1`);
  // The pause is a status write, not a new spec: the failed slot waits for its restart delay.
  assert.equal(c.wanted('s').filter((t) => t.slot === bad!.slot).length, 0, 'no restart before the delay');
  await c.elapse(5_000);
  assert.equal(c.wanted('s').filter((t) => t.slot === bad!.slot).length, 1, 'restarted after it');
  await workersAct(c, 's');
  c.clock.advance(60_000);
  await running(c, 's');
  assert.equal(stopping(c, 's').length, 0);
  assert.equal(withEnv(c, 's', 'V=1').length, 3, 'paused: the other slots keep the old spec');

  // `service update` again (even with nothing changed) resumes it.
  c.updateSpec('s', () => undefined);
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATING);
  for (let i = 0; i < 3; i++) {
    await workersAct(c, 's');
    await c.elapse(30_000);
  }
  await c.elapse(5_000);
  assert.equal(withEnv(c, 's', 'V=2').length, 4);
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  c.stop();
});

test('failure action continue: failures do not stop the update', async () => {
  const c = await started();
  c.addService('s', 'web', { replicas: 3, env: ['V=1'], update: { parallelism: 1, failureAction: A.FAILURE_CONTINUE }, restart: { delayMs: 60_000 } });
  await running(c, 's');
  c.updateSpec('s', (s) => (s.task!.container!.env = ['V=2']));
  for (let i = 0; i < 3; i++) {
    await c.settle();
    await workersAct(c, 's');
    const latest = withEnv(c, 's', 'V=2').at(-1)!;
    c.report(latest.meta.id, S.TASK_FAILED, { err: 'boom' });
    await c.settle();
  }
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  assert.equal(withEnv(c, 's', 'V=1').length, 0, 'every slot was updated');
  c.stop();
});

test('failure action rollback: the spec returns to the previous one, the failed slots are rolled back by the rollback config, the untouched ones kept', async () => {
  const c = await started();
  c.addService('s', 'web', {
    replicas: 4,
    env: ['V=1'],
    update: { parallelism: 2, delayMs: 30_000, failureAction: A.FAILURE_ROLLBACK },
    rollback: { parallelism: 0 },
    restart: { delayMs: 60_000 },
  });
  await running(c, 's');
  const untouched = c.wanted('s').filter((t) => t.slot > 2).map((t) => t.meta.id);
  c.updateSpec('s', (s) => (s.task!.container!.env = ['V=bad']));
  await c.settle();
  await workersAct(c, 's');
  const bad = withEnv(c, 's', 'V=bad');
  assert.equal(bad.length, 2);
  c.report(bad[1]!.meta.id, S.TASK_FAILED, { err: 'task exited with code 1' });
  await c.settle();
  const svc = c.service('s');
  assert.equal(svc.updateStatus?.state, U.ROLLBACK_STARTED);
  assert.equal(svc.updateStatus?.message, `update rolled back: task ${bad[1]!.meta.id} failed: task exited with code 1`);
  assert.deepEqual(svc.spec?.task?.container?.env, ['V=1']);
  assert.deepEqual(svc.previousSpec?.task?.container?.env, ['V=bad']);
  // Rollback parallelism 0: the remaining bad task is stopped at once; the failed slot refilled.
  await workersAct(c, 's');
  await workersAct(c, 's');
  assert.deepEqual(c.wanted('s').map((t) => envOf(t)), ['V=1', 'V=1', 'V=1', 'V=1']);
  assert.deepEqual(c.wanted('s').filter((t) => t.slot > 2).map((t) => t.meta.id), untouched, 'slots the update never reached keep their tasks');
  await c.elapse(5_000);
  assert.equal(status(c, 's'), U.ROLLBACK_COMPLETED);
  assert.match(c.service('s').updateStatus?.message ?? '', /^update rolled back: task /);
  c.stop();
});

test('an unhealthy new task within the monitor window fails the update', async () => {
  const c = await updateStarted({ replicas: 2, update: { parallelism: 1, monitorMs: 10_000 } });
  const [fresh] = withEnv(c, 's', 'V=2');
  c.clock.advance(3_000);
  c.report(fresh!.meta.id, S.TASK_RUNNING, { health: H.HEALTH_UNHEALTHY, message: 'health check failed' });
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATE_PAUSED);
  assert.match(c.service('s').updateStatus?.message ?? '', /unhealthy \(health check failed\)/);
  c.stop();
});

test('max failure ratio: failures up to the ratio of the slots are tolerated, beyond it the action applies', async () => {
  const c = await updateStarted({ replicas: 4, update: { parallelism: 0, maxFailureRatio: 0.5 }, restart: { delayMs: 60_000 } });
  const fresh = withEnv(c, 's', 'V=2');
  assert.equal(fresh.length, 4, 'parallelism 0: all at once');
  c.report(fresh[0]!.meta.id, S.TASK_FAILED, { err: 'one' });
  c.report(fresh[1]!.meta.id, S.TASK_FAILED, { err: 'two' });
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATING, '2 of 4 is not more than 0.5');
  c.report(fresh[2]!.meta.id, S.TASK_FAILED, { err: 'three' });
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATE_PAUSED);
  c.stop();
});

test('leader change mid-update: the new leader resumes (same status, only old tasks replaced, delay kept), never restarts it', async () => {
  const c = await updateStarted({ replicas: 6, update: { parallelism: 2, delayMs: 10_000 } });
  await c.elapse(10_000);
  assert.equal(stopping(c, 's').length, 2, 'second batch under way');
  const startedAt = c.service('s').updateStatus?.startedAt;
  c.stop();
  // The old tasks stop while there is no leader.
  c.shutDownAll('s');
  c.clock.advance(1_000);
  c.start();
  await c.settle();
  c.runAll('s');
  await c.settle();
  assert.equal(c.service('s').updateStatus?.startedAt, startedAt, 'the same update');
  assert.equal(withEnv(c, 's', 'V=2').length, 4);
  assert.equal(stopping(c, 's').length, 0, 'the delay still applies after the failover');
  // Another failover during the delay.
  c.stop();
  c.clock.advance(5_000);
  c.start();
  await c.settle();
  assert.equal(stopping(c, 's').length, 0);
  await c.elapse(5_000);
  assert.deepEqual(stopping(c, 's').map((t) => t.slot), [5, 6]);
  await workersAct(c, 's');
  await c.elapse(5_000);
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  for (let slot = 1; slot <= 6; slot++) assert.equal(c.tasks('s').filter((t) => t.slot === slot).length, 2, `slot ${slot} replaced once`);
  c.stop();
});

test('global service: each node task replaced, per node', async () => {
  const c = await started({}, ['n1', 'n2', 'n3']);
  c.addService('g', 'agent', { global: true, env: ['V=1'], update: { parallelism: 1 } });
  await running(c, 'g');
  c.updateSpec('g', (s) => (s.task!.container!.env = ['V=2']));
  for (let i = 0; i < 3; i++) {
    await c.settle();
    assert.equal(stopping(c, 'g').length, 1);
    await workersAct(c, 'g');
  }
  await c.elapse(5_000);
  assert.deepEqual(c.wanted('g').map((t) => [t.nodeId, envOf(t)]), [
    ['n1', 'V=2'],
    ['n2', 'V=2'],
    ['n3', 'V=2'],
  ]);
  assert.equal(status(c, 'g'), U.UPDATE_COMPLETED);
  c.stop();
});

test('manual rollback and a change that touches no task', async () => {
  const c = await started();
  c.addService('s', 'web', { replicas: 2, env: ['V=1'], update: { parallelism: 0 } });
  await running(c, 's');
  c.updateSpec('s', (s) => (s.replicas = 3));
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATE_NONE, 'a scale starts no rolling update');
  c.runAll('s');
  c.updateSpec('s', (s) => (s.task!.container!.env = ['V=2']));
  await c.settle();
  await workersAct(c, 's');
  await c.elapse(5_000);
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  c.rollback('s');
  await c.settle();
  assert.equal(status(c, 's'), U.ROLLBACK_STARTED);
  assert.equal(c.service('s').updateStatus?.message, 'manually requested rollback');
  // The rollback config is unset: Swarm's defaults (parallelism 0 here means all at once).
  await workersAct(c, 's');
  await c.elapse(5_000);
  assert.equal(status(c, 's'), U.ROLLBACK_COMPLETED);
  assert.deepEqual(c.wanted('s').map(envOf), ['V=1', 'V=1', 'V=1']);
  c.stop();
});

test('--force: an unchanged spec with force_update bumped replaces every task', async () => {
  const c = await started();
  c.addService('s', 'web', { replicas: 2, env: ['V=1'], update: { parallelism: 0 } });
  await running(c, 's');
  const before = c.wanted('s').map((t) => t.meta.id);
  c.updateSpec('s', (s) => (s.task!.forceUpdate = 1));
  await c.settle();
  await workersAct(c, 's');
  const after = c.wanted('s').map((t) => t.meta.id);
  assert.equal(after.length, 2);
  assert.ok(after.every((id) => !before.includes(id)));
  c.stop();
});

/** A cluster of nodes a, b, c (zone labels of the same names) running 's' with 3 replicas, one a node. */
async function zoned(replicas = 3): Promise<Cluster> {
  const c = await started({}, []);
  for (const zone of ['a', 'b', 'c']) c.addNode(zone, { labels: { zone } });
  c.addService('s', 'web', { replicas, env: ['V=1'], update: { parallelism: 1 } });
  await running(c, 's');
  return c;
}

test('a change of placement only: tasks on nodes that still fit are updated where they run (same ids, not stopped), only the others replaced', async () => {
  const c = await zoned();
  const before = new Map(c.wanted('s').map((t) => [t.nodeId, t.meta.id]));
  assert.deepEqual([...before.keys()].sort(), ['a', 'b', 'c'], 'one task a node');
  c.updateSpec('s', (s) => (s.task!.placement = { constraints: ['node.labels.zone!=c'] }));
  await c.settle();
  assert.equal(status(c, 's'), U.UPDATING);
  for (const node of ['a', 'b']) {
    const t = c.tasks('s').find((x) => x.meta.id === before.get(node))!;
    assert.equal(t.desiredState, S.TASK_RUNNING, `the task on ${node} keeps running`);
    assert.equal(t.status?.state, S.TASK_RUNNING);
    assert.deepEqual(t.spec?.placement?.constraints, ['node.labels.zone!=c'], `the task on ${node} carries the new spec`);
  }
  assert.deepEqual(stopping(c, 's').map((t) => t.meta.id), [before.get('c')], 'only the task on zone c is stopped');
  await workersAct(c, 's');
  await c.elapse(5_000);
  assert.equal(status(c, 's'), U.UPDATE_COMPLETED);
  const after = c.wanted('s');
  assert.equal(after.length, 3);
  assert.ok(after.every((t) => t.nodeId !== 'c'), 'nothing left on zone c');
  assert.deepEqual(after.map((t) => t.meta.id).filter((id) => id === before.get('a') || id === before.get('b')).length, 2, 'the tasks on a and b are the same ones');
  c.stop();
});

test('a change of placement with other changes replaces every task', async () => {
  const c = await zoned();
  c.updateSpec('s', (s) => {
    s.task!.placement = { constraints: ['node.labels.zone!=c'] };
    s.task!.container!.env = ['V=2'];
  });
  await c.settle();
  assert.equal(stopping(c, 's').length, 1, 'parallelism 1: one old task at a time, whatever its node');
  assert.equal(c.wanted('s').filter((t) => envOf(t) === 'V=1').length, 2, 'the others wait their turn, unchanged');
  c.stop();
});

test('max replicas per node lowered: one task a node kept where it runs, the extra ones replaced', async () => {
  const c = await started({}, []);
  for (const zone of ['a', 'b']) c.addNode(zone, { labels: { zone } });
  c.addService('s', 'web', { replicas: 4, env: ['V=1'], update: { parallelism: 0 } });
  await running(c, 's');
  const perNode = (ts: Stored<'task'>[]): Record<string, number> => Object.fromEntries(['a', 'b'].map((n) => [n, ts.filter((t) => t.nodeId === n).length]));
  assert.deepEqual(perNode(c.wanted('s')), { a: 2, b: 2 });
  c.updateSpec('s', (s) => (s.task!.placement = { constraints: [], maxReplicas: 1 }));
  await c.settle();
  const kept = c.tasks('s').filter((t) => t.desiredState === S.TASK_RUNNING && t.spec?.placement?.maxReplicas === 1 && t.status?.state === S.TASK_RUNNING);
  assert.deepEqual(perNode(kept), { a: 1, b: 1 }, 'one task a node brought up to date in place');
  assert.deepEqual(perNode(stopping(c, 's')), { a: 1, b: 1 }, 'the one beyond the limit on each node is replaced');
  c.stop();
});
