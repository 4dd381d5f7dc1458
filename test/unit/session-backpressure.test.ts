// A node that reads its session slowly: while its stream is full the leader writes nothing
// more to it, and when it drains sends one message with the latest of every change meanwhile,
// so what the leader holds for a stalled node is one entry per task changed, not one message
// per change.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, deleteAction, updateAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { leaderSessions, openSession, turn } from '../lib/session-fixture.js';

const S = baton.TaskState;

function task(id: string, hostPort: number): baton.Task.$Properties {
  return {
    meta: { id },
    serviceId: 'web',
    nodeId: 'n1',
    desiredState: S.TASK_RUNNING,
    status: { state: S.TASK_RUNNING, ports: [{ targetPort: 80, hostPort }] },
    endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] },
  };
}

/** A store with worker n1, service web publishing 8080, and these running tasks of it on n1. */
function nodeWithTasks(ids: string[]): LocalHost {
  const host = new LocalHost();
  host.apply([
    createAction('node', { meta: { id: 'n1' }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:4242' }, role: baton.NodeRole.WORKER }),
    createAction('service', { meta: { id: 'web' }, spec: { annotations: { name: 'web' } }, endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] } }),
    ...ids.map((id, i) => createAction('task', task(id, 31001 + i))),
  ]);
  return host;
}

test('a full session stream gets nothing more until it drains, then one message with the latest of everything', async () => {
  const host = nodeWithTasks(['t1', 't2', 't3']);
  const store = host.store;
  const sessions = leaderSessions(host);
  const node = openSession(sessions, 'n1');
  try {
    assert.equal(node.messages.length, 1);
    assert.equal(node.messages[0]?.full, true);

    // The node stops keeping up: the next message is written and fills its stream.
    node.accepting = false;
    const stop = (id: string): void => {
      const t = cloneObject('task', store.get('task', id)!);
      t.desiredState = S.TASK_SHUTDOWN;
      host.apply([updateAction('task', t)]);
    };
    stop('t1');
    await turn();
    assert.equal(node.messages.length, 2);

    // Meanwhile, over many turns: a stop, a new task then its stop, a deletion, fifty tasks
    // that come and go. Nothing is written.
    stop('t2');
    await turn();
    host.apply([createAction('task', task('t4', 31004))]);
    await turn();
    stop('t4');
    await turn();
    host.apply([deleteAction('task', store.get('task', 't3')!)]);
    for (let i = 0; i < 50; i++) {
      host.apply([createAction('task', task(`brief${i}`, 32000 + i))]);
      await turn();
      host.apply([deleteAction('task', store.get('task', `brief${i}`)!)]);
      await turn();
    }
    assert.equal(node.messages.length, 2, 'nothing is queued for a node whose stream is full');

    node.drain();
    await turn();
    assert.equal(node.messages.length, 3, 'one message once it drains');
    const caughtUp = node.messages[2]!;
    assert.equal(caughtUp.full, false);
    assert.deepEqual(
      caughtUp.tasks?.map((t) => [t.meta?.id, t.desiredState]).sort(),
      [['t2', S.TASK_SHUTDOWN], ['t4', S.TASK_SHUTDOWN]],
      'each changed task once, in its latest version',
    );
    assert.deepEqual(caughtUp.removed?.sort(), ['t3', ...Array.from({ length: 50 }, (_, i) => `brief${i}`)].sort());
    assert.equal(caughtUp.meshSet, true);
    assert.deepEqual(
      (caughtUp.mesh ?? []).flatMap((m) => (m.ports ?? []).flatMap((p) => (p.backends ?? []).map((b) => b.taskId))),
      [],
      'the table as it is now: every task of the service stopped or gone',
    );
  } finally {
    sessions.stop();
  }
});

test('a store reset while the stream is full: the full set goes out once it drains, and nothing before', async () => {
  const host = nodeWithTasks(['t1']);
  const store = host.store;
  const sessions = leaderSessions(host);
  const node = openSession(sessions, 'n1');
  try {
    node.accepting = false;
    host.apply([createAction('task', task('t2', 31002))]);
    await turn();
    assert.equal(node.messages.length, 2, 'the change that filled the stream');
    // A snapshot installed meanwhile (as on a follower that fell behind, then won an election).
    const snapshot = store.snapshot();
    host.apply([createAction('task', task('t3', 31003))]);
    await turn();
    store.restore(snapshot);
    await turn();
    assert.equal(node.messages.length, 2);

    node.drain();
    await turn();
    assert.equal(node.messages.length, 3);
    assert.equal(node.messages[2]?.full, true);
    assert.deepEqual(node.messages[2]?.tasks?.map((t) => t.meta?.id).sort(), ['t1', 't2']);
  } finally {
    sessions.stop();
  }
});
