// The job orchestrator (--mode replicated-job|global-job) against a real ClusterStore with no
// Raft (test/lib/local-cluster.ts): the tests play the workers, reporting tasks running,
// complete or failed, and the user, writing specs as `service update` does.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { deleteAction, type Stored } from '../../manager/store/index.js';
import { Cluster, started } from '../lib/local-cluster.js';

const S = baton.TaskState;
const C = baton.RestartCondition;

/** Tasks still meant to run (desired RUNNING), by slot then node. */
function live(c: Cluster, id: string): Stored<'task'>[] {
  return c.wanted(id);
}

function completed(c: Cluster, id: string, iteration = 0): Stored<'task'>[] {
  return c.tasks(id).filter((t) => t.status?.state === S.TASK_COMPLETE && Number(t.jobIteration ?? 0) === iteration);
}

/** Every live task runs, then completes with exit code 0. */
async function completeAll(c: Cluster, id: string): Promise<number> {
  c.runAll(id);
  const done = live(c, id);
  for (const t of done) c.report(t.meta.id, S.TASK_COMPLETE, { exitCode: 0 });
  await c.settle();
  return done.length;
}

test('replicated job: 5 completions, 2 at a time, then nothing more', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 5, maxConcurrent: 2 }, restart: { condition: C.RESTART_ON_FAILURE } });
  await c.settle();
  assert.deepEqual(live(c, 'j').map((t) => [t.slot, t.annotations?.name, Number(t.jobIteration ?? 0)]), [
    [1, 'batch.1', 0],
    [2, 'batch.2', 0],
  ]);
  assert.equal(c.service('j').updateStatus, null, 'no rolling update for a job');
  // One completes: the next slot starts, the other keeps running.
  c.runAll('j');
  c.report(live(c, 'j')[0]!.meta.id, S.TASK_COMPLETE, { exitCode: 0 });
  await c.settle();
  assert.deepEqual(live(c, 'j').map((t) => t.slot), [2, 3]);
  const rounds: number[] = [];
  for (let i = 0; i < 5 && live(c, 'j').length > 0; i++) rounds.push(await completeAll(c, 'j'));
  assert.deepEqual(rounds, [2, 2], 'slots 2+3, then 4+5');
  assert.equal(completed(c, 'j').length, 5);
  assert.equal(c.tasks('j').length, 5, 'exactly five tasks were ever made');
  assert.deepEqual(c.tasks('j').map((t) => t.desiredState), Array(5).fill(S.TASK_COMPLETE), "Swarm's desired state of a job task that did its work: Complete");
  assert.deepEqual(live(c, 'j'), []);
  await c.elapse(60_000);
  assert.equal(c.tasks('j').length, 5, 'a completed job starts nothing later');
  c.stop();
});

test('replicated job: max concurrent unset runs every completion at once', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 3 } });
  await c.settle();
  assert.equal(live(c, 'j').length, 3);
  c.stop();
});

test('replicated job: a failure is retried in its slot after the delay (on-failure); a completion is never rerun, even under condition any', async () => {
  for (const condition of [C.RESTART_ON_FAILURE, C.RESTART_ANY]) {
    const c = await started();
    c.addService('j', 'batch', { replicatedJob: { totalCompletions: 2, maxConcurrent: 2 }, restart: { condition, delayMs: 5_000 } });
    await c.settle();
    c.runAll('j');
    const [first, second] = live(c, 'j');
    c.report(first!.meta.id, S.TASK_FAILED, { exitCode: 1, err: 'exit 1' });
    c.report(second!.meta.id, S.TASK_COMPLETE, { exitCode: 0 });
    await c.settle();
    assert.deepEqual(live(c, 'j'), [], 'nothing during the delay');
    await c.elapse(5_000);
    const retry = c.only('j');
    assert.equal(retry.slot, 1, 'retried in the failed slot');
    await completeAll(c, 'j');
    await c.elapse(60_000);
    assert.equal(completed(c, 'j').length, 2);
    assert.equal(c.tasks('j').length, 3, 'two runs of slot 1, one of slot 2');
    c.stop();
  }
});

test('replicated job: condition none leaves a failed slot failed; the other slots still run, one at a time', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 2, maxConcurrent: 1 }, restart: { condition: C.RESTART_NONE } });
  await c.settle();
  c.runAll('j');
  const first = c.only('j');
  assert.equal(first.slot, 1);
  c.report(first.meta.id, S.TASK_FAILED, { exitCode: 2, err: 'exit 2' });
  await c.settle();
  assert.equal(c.only('j').slot, 2, 'slot 2 starts: the failed one no longer holds a place');
  await completeAll(c, 'j');
  await c.elapse(60_000);
  assert.deepEqual(live(c, 'j'), []);
  assert.equal(completed(c, 'j').length, 1);
  assert.equal(c.tasks('j').length, 2);
  c.stop();
});

test('replicated job: a new spec (--force) starts the next iteration: the old run is stopped, every slot runs again', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 3, maxConcurrent: 2 } });
  await c.settle();
  c.runAll('j');
  c.report(live(c, 'j')[0]!.meta.id, S.TASK_COMPLETE, { exitCode: 0 });
  await c.settle();
  const oldLive = live(c, 'j').map((t) => t.meta.id);
  assert.equal(oldLive.length, 2);
  c.clock.advance(1_000);
  c.updateSpec('j', (spec) => (spec.task = { ...spec.task, forceUpdate: 1 }));
  await c.settle();
  const svc = c.service('j');
  assert.equal(Number(svc.jobStatus?.jobIteration), 1);
  assert.equal(Number(svc.jobStatus?.lastExecution), c.clock.now());
  assert.equal(svc.updateStatus, null, 'no rolling update for a job');
  for (const id of oldLive) assert.equal(c.store.get('task', id)?.desiredState, S.TASK_SHUTDOWN, 'the old iteration is stopped');
  assert.deepEqual(live(c, 'j').map((t) => [t.slot, Number(t.jobIteration)]), [
    [1, 1],
    [2, 1],
  ]);
  c.shutDownAll('j');
  while (live(c, 'j').length > 0) await completeAll(c, 'j');
  assert.equal(completed(c, 'j', 1).length, 3);
  c.stop();
});

test('replicated job: scaling sets the total completions and reruns the job', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 1, maxConcurrent: 1 } });
  await c.settle();
  await completeAll(c, 'j');
  c.updateSpec('j', (spec) => (spec.replicatedJob = { totalCompletions: 2, maxConcurrent: 1 }));
  await c.settle();
  let rounds = 0;
  while (live(c, 'j').length > 0 && rounds++ < 5) await completeAll(c, 'j');
  assert.equal(completed(c, 'j', 1).length, 2);
  c.stop();
});

test('global job: once per eligible node; a node that joins later gets its run; --force runs it on every node again', async () => {
  const c = await started();
  c.addService('g', 'sweep', { globalJob: true, constraints: ['node.labels.zone!=b'] });
  await c.settle();
  assert.deepEqual(live(c, 'g').map((t) => [t.nodeId, t.slot, t.annotations?.name]), [
    ['n1', 0, 'sweep.n1'],
    ['n2', 0, 'sweep.n2'],
  ]);
  await completeAll(c, 'g');
  await c.elapse(60_000);
  assert.deepEqual(live(c, 'g'), [], 'completed nodes run nothing more');
  c.addNode('n3');
  c.addNode('n4', { labels: { zone: 'b' } });
  await c.settle();
  assert.deepEqual(live(c, 'g').map((t) => t.nodeId), ['n3'], 'the new eligible node only');
  await completeAll(c, 'g');
  assert.equal(completed(c, 'g').length, 3);
  c.updateSpec('g', (spec) => (spec.task = { ...spec.task, forceUpdate: 1 }));
  await c.settle();
  assert.deepEqual(live(c, 'g').map((t) => [t.nodeId, Number(t.jobIteration)]), [
    ['n1', 1],
    ['n2', 1],
    ['n3', 1],
  ]);
  await completeAll(c, 'g');
  assert.equal(completed(c, 'g', 1).length, 3);
  assert.equal(c.tasks('g').length, 6);
  c.stop();
});

test('global job: a failure is retried on its node; a down node orphans its task and gets a new one when back', async () => {
  const c = await started();
  c.addService('g', 'sweep', { globalJob: true, restart: { condition: C.RESTART_ON_FAILURE, delayMs: 1_000 } });
  await c.settle();
  c.runAll('g');
  const [onN1] = live(c, 'g');
  c.report(onN1!.meta.id, S.TASK_FAILED, { exitCode: 1 });
  c.setNodeState('n2', baton.NodeState.NODE_DOWN);
  await c.elapse(1_000);
  assert.deepEqual(live(c, 'g').map((t) => t.nodeId), ['n1']);
  c.setNodeState('n2', baton.NodeState.NODE_READY);
  await c.settle();
  assert.deepEqual(live(c, 'g').map((t) => t.nodeId), ['n1', 'n2']);
  await completeAll(c, 'g');
  assert.equal(completed(c, 'g').length, 2);
  c.stop();
});

test('a removed job: its running tasks are told to go, the finished ones deleted', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 2, maxConcurrent: 2 } });
  c.addService('g', 'sweep', { globalJob: true });
  await c.settle();
  c.runAll('j');
  c.runAll('g');
  c.report(live(c, 'j')[0]!.meta.id, S.TASK_COMPLETE, { exitCode: 0 });
  await c.settle();
  c.host.apply([deleteAction('service', { meta: { id: 'j' } }), deleteAction('service', { meta: { id: 'g' } })]);
  await c.settle();
  for (const id of ['j', 'g']) {
    const left = c.tasks(id);
    assert.equal(left.length, 2 - (id === 'j' ? 1 : 0), `${id}: the completed task is deleted, the running ones stay until they stop`);
    assert.ok(left.every((t) => t.desiredState === S.TASK_REMOVE), `${id}: told to go`);
  }
  c.stop();
});

test('the replicated and global orchestrators leave jobs alone, and a service stays a job', async () => {
  const c = await started();
  c.addService('j', 'batch', { replicatedJob: { totalCompletions: 2, maxConcurrent: 1 } });
  c.addService('w', 'web', { replicas: 1 });
  await c.settle();
  assert.equal(live(c, 'j').length, 1, 'not replicas: spec.replicas is 0 and max concurrent is 1');
  assert.equal(live(c, 'w').length, 1);
  c.stop();
});

test('job specs: one mode, counts within the limit, no update config; the CLI flags as Docker reads them', async () => {
  const { validateServiceSpec } = await import('../../spec/index.js');
  const { specFromFlags } = await import('../../cli/service-spec.js');
  const base = { annotations: { name: 'j' }, task: { container: { image: 'busybox' } } };
  assert.deepEqual(validateServiceSpec({ ...base, replicatedJob: { totalCompletions: 5, maxConcurrent: 2 } }), []);
  assert.deepEqual(validateServiceSpec({ ...base, global: true, globalJob: {}, replicatedJob: {} }), ['a service has one mode, not global and replicated-job and global-job']);
  assert.deepEqual(validateServiceSpec({ ...base, globalJob: {}, replicas: 2, update: { parallelism: 1 } }), [
    "replicas cannot be used with global-job mode (a replicated job's total completions say how many tasks complete)",
    'jobs may not have an update or rollback config',
  ]);
  assert.deepEqual(validateServiceSpec({ ...base, replicatedJob: { totalCompletions: 10_001, maxConcurrent: 1.5 } }), [
    'replicated job total completions 10001 is more than the limit of 10000 replicas per service',
    'replicated job max concurrent 1.5 is not a whole number',
  ]);

  const job = specFromFlags({ name: 'j', image: 'busybox', mode: 'replicated-job', replicas: '5' });
  assert.deepEqual(job.replicatedJob, { totalCompletions: 5, maxConcurrent: 5 }, 'max concurrent defaults to --replicas');
  assert.equal(job.replicas, undefined);
  assert.equal(job.update, null);
  assert.equal(job.task?.restart?.condition, C.RESTART_ON_FAILURE, 'on-failure by default for a job');
  assert.deepEqual(specFromFlags({ name: 'j', image: 'busybox', mode: 'replicated-job' }).replicatedJob, { totalCompletions: 1, maxConcurrent: 1 });
  assert.deepEqual(specFromFlags({ name: 'g', image: 'busybox', mode: 'global-job' }).globalJob, {});
  assert.equal(specFromFlags({ name: 'g', image: 'busybox', mode: 'global-job', 'restart-condition': 'none' }).task?.restart?.condition, C.RESTART_NONE);
  assert.throws(() => specFromFlags({ name: 'j', image: 'busybox', mode: 'global-job', replicas: '2', 'max-concurrent': '1', 'rollback-order': 'start-first' }), {
    message:
      '3 problems: --max-concurrent can only be used with replicated-job mode; update and rollback configuration is not supported for jobs (--rollback-order); --replicas can only be used with replicated or replicated-job mode',
  });
});
