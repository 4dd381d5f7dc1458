// Task status reports at scale (issue 17): the calls of many nodes that arrive together are
// written in one Raft entry, not one each; every call returns only once its statuses are in the
// store; a version race in the shared write falls back to one write per call, and a node still
// speaks only for its own tasks.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, updateAction, type StoreActionT } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import type { Sessions } from '../../dispatcher/index.js';
import { leaderSessions } from '../lib/session-fixture.js';

const S = baton.TaskState;
type Call = Parameters<ReturnType<Sessions['handlers']>['UpdateTaskStatus']>[1];

function setup(nodes: number, tasksPerNode: number): { host: LocalHost; sessions: Sessions; report: (nodeId: string, taskIds: string[], state: baton.TaskState) => Promise<unknown> } {
  const host = new LocalHost();
  const nodeIds = Array.from({ length: nodes }, (_, i) => `n${i}`);
  host.apply([
    ...nodeIds.map((id) => createAction('node', { meta: { id }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:1' }, role: baton.NodeRole.WORKER })),
    createAction('service', { meta: { id: 's' }, spec: { annotations: { name: 's' } } }),
    ...nodeIds.flatMap((nodeId) =>
      Array.from({ length: tasksPerNode }, (_, i) =>
        createAction('task', { meta: { id: `${nodeId}-t${i}` }, serviceId: 's', nodeId, desiredState: S.TASK_RUNNING, status: { state: S.TASK_ASSIGNED } }),
      ),
    ),
  ]);
  const sessions = leaderSessions(host);
  const report = (nodeId: string, taskIds: string[], state: baton.TaskState): Promise<unknown> =>
    sessions.handlers().UpdateTaskStatus({ updates: taskIds.map((taskId) => ({ taskId, status: { state, timestamp: 1 } })) }, { nodeId } as unknown as Call);
  return { host, sessions, report };
}

test("many nodes' status calls that arrive together are one write; each returns with its statuses applied", async () => {
  const { host, sessions, report } = setup(50, 4);
  const before = host.proposals;
  const calls = Array.from({ length: 50 }, (_, n) => {
    const ids = [0, 1, 2, 3].map((i) => `n${n}-t${i}`);
    return report(`n${n}`, ids, S.TASK_RUNNING).then(() => ids.every((id) => host.store.get('task', id)?.status?.state === S.TASK_RUNNING));
  });
  const applied = await Promise.all(calls);
  assert.ok(applied.every(Boolean), 'every call returned after its statuses were in the store');
  assert.equal(host.proposals - before, 1, '50 calls, one write');
  // A node does not speak for another's task.
  await report('n0', ['n1-t0'], S.TASK_FAILED);
  assert.equal(host.store.get('task', 'n1-t0')?.status?.state, S.TASK_RUNNING);
  sessions.stop();
});

test('a version race in the shared write: each call is written on its own, and all succeed', async () => {
  const { host, sessions, report } = setup(3, 1);
  // The first shared write races with another writer (the orchestrator, say) on n0's task:
  // that write fails whole; the calls are then written one by one against fresh reads.
  const propose = host.propose.bind(host);
  let raced = false;
  host.propose = async (actions: StoreActionT[]) => {
    if (!raced && actions.length > 1) {
      raced = true;
      const t = cloneObject('task', host.store.get('task', 'n0-t0')!);
      t.annotations = { labels: { touched: 'yes' } };
      host.apply([updateAction('task', t)]);
    }
    return propose(actions);
  };
  await Promise.all(['n0', 'n1', 'n2'].map((n) => report(n, [`${n}-t0`], S.TASK_RUNNING)));
  assert.ok(raced, 'the shared write met the race');
  for (const n of ['n0', 'n1', 'n2']) assert.equal(host.store.get('task', `${n}-t0`)?.status?.state, S.TASK_RUNNING, n);
  assert.equal(host.store.get('task', 'n0-t0')?.annotations?.labels?.touched, 'yes', "the other writer's change is kept");
  sessions.stop();
});
