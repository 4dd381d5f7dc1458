// The leader's loops at scale: a pass is synchronous, so one that reads every task of a large
// cluster holds the event loop (Raft's ticks and messages, heartbeats) for as long as it takes.
// At 100,000 tasks a new leader's first full pass took seconds, longer than the election
// timeout, and the leader lost its office to the pass. Each pass of the orchestrators and the
// updater now reads about maxTasksPerPass tasks and leaves the other services to the next one;
// the cluster still converges. And a task coming up on a service never updated does not start
// an updater pass over all its tasks.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { started } from '../lib/local-cluster.js';

const S = baton.TaskState;

function loop(c: Awaited<ReturnType<typeof started>>, name: string): { passes: number; mostTasksRead: number } {
  const l = c.loops.find((x) => x.name === name);
  assert.ok(l, `loop ${name} runs`);
  return l.stats;
}

test('a node lost under three services: each orchestrator pass reads about maxTasksPerPass tasks, and every slot is refilled', async () => {
  const c = await started({ maxTasksPerPass: 10 }, ['n1', 'n2']);
  for (const id of ['s1', 's2', 's3']) c.addService(id, id, { replicas: 10, restart: { delayMs: 60_000 } });
  await c.settle();
  for (const id of ['s1', 's2', 's3']) c.runAll(id);
  await c.settle();
  // n1 goes down: its tasks of all three services are orphaned and replaced on n2.
  c.setNodeState('n1', baton.NodeState.NODE_DOWN);
  await c.settle();
  for (const id of ['s1', 's2', 's3']) {
    const wanted = c.wanted(id);
    assert.equal(wanted.length, 10, `${id}: every slot has a wanted task`);
    assert.ok(wanted.every((t) => t.nodeId === 'n2'), `${id}: all on the node that is up`);
    assert.ok(c.tasks(id).some((t) => t.status?.state === S.TASK_ORPHANED), `${id}: its tasks on n1 were orphaned`);
  }
  // One service (10 tasks, up to 15 with the orphaned ones) per pass, never the three (30+).
  const stats = loop(c, 'replicated-orchestrator');
  assert.ok(stats.mostTasksRead > 0 && stats.mostTasksRead < 30, `most tasks one pass read: ${stats.mostTasksRead}`);
  c.stop();
});

test('a task coming up on a service never updated starts no updater pass; one of a service updated before does', async () => {
  const c = await started({}, ['n1', 'n2']);
  c.addService('s1', 'web', { replicas: 4 });
  await c.settle();
  const updater = loop(c, 'updater');
  const before = updater.passes;
  c.runAll('s1');
  await c.settle();
  assert.equal(updater.passes, before, 'four tasks came up: no updater pass');
  // A service an update went through may have a start-first switch for a task coming up to end.
  c.updateService('s1', (s) => {
    s.updateStatus = { state: baton.UpdateState.UPDATE_COMPLETED, startedAt: 1, message: 'update completed' };
  });
  c.scale('s1', 6);
  await c.settle();
  const scaled = updater.passes;
  c.runAll('s1');
  await c.settle();
  assert.ok(updater.passes > scaled, 'tasks of a service updated before coming up are looked at');
  c.stop();
});
