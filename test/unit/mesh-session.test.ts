// The mesh table on worker sessions: the dispatcher's Sessions against a real store, reading
// exactly the messages a node would receive (test/lib/session-fixture.ts).
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, updateAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { leaderSessions, openSession, turn } from '../lib/session-fixture.js';

const S = baton.TaskState;

function backends(msg: baton.internal.SessionMessage.$Properties | undefined): string[] {
  return (msg?.mesh ?? []).flatMap((s) => (s.ports ?? []).flatMap((p) => (p.backends ?? []).map((b) => b.taskId ?? '')));
}

test('sessions carry the mesh table: in full first, then only when it changes, ahead of the stop it goes with', async () => {
  const host = new LocalHost();
  const store = host.store;
  host.apply([
    createAction('node', { meta: { id: 'n1' }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:4242' }, role: baton.NodeRole.WORKER }),
    createAction('node', { meta: { id: 'n2' }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.2:4242' }, role: baton.NodeRole.WORKER }),
    createAction('service', { meta: { id: 'web' }, spec: { annotations: { name: 'web' } }, endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] } }),
  ]);
  const task = (id: string, nodeId: string, hostPort: number): void =>
    void host.apply([
      createAction('task', {
        meta: { id },
        serviceId: 'web',
        nodeId,
        desiredState: S.TASK_RUNNING,
        status: { state: S.TASK_RUNNING, ports: [{ targetPort: 80, hostPort }] },
        endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] },
      }),
    ]);
  task('t1', 'n1', 31001);
  task('t2', 'n2', 31002);

  const sessions = leaderSessions(host);
  const n1 = openSession(sessions, 'n1');
  const n2 = openSession(sessions, 'n2');
  try {
    for (const s of [n1, n2]) {
      assert.equal(s.messages.length, 1);
      assert.equal(s.messages[0]?.full, true);
      assert.equal(s.messages[0]?.meshSet, true, 'the first message carries the table');
      assert.deepEqual(backends(s.messages[0]), ['t1', 't2']);
    }

    // A heartbeat-like node update alters nothing: no message at all.
    const n = cloneObject('node', store.get('node', 'n2')!);
    n.status = { ...n.status, lastHeartbeat: 42 };
    host.apply([updateAction('node', n)]);
    await turn();
    assert.equal(n1.messages.length, 1);
    assert.equal(n2.messages.length, 1);

    // t1 is told to stop: its node gets the stop and a table without t1 in one message, the
    // other node the table alone.
    const t1 = cloneObject('task', store.get('task', 't1')!);
    t1.desiredState = S.TASK_SHUTDOWN;
    host.apply([updateAction('task', t1)]);
    await turn();
    assert.equal(n1.messages.length, 2);
    const stop = n1.messages[1]!;
    assert.deepEqual(stop.tasks?.map((t) => [t.meta?.id, t.desiredState]), [['t1', S.TASK_SHUTDOWN]]);
    assert.equal(stop.meshSet, true);
    assert.deepEqual(backends(stop), ['t2'], 'the stop and the table without the task travel together');
    assert.equal(n2.messages.length, 2);
    assert.deepEqual(n2.messages[1]?.tasks, []);
    assert.deepEqual(backends(n2.messages[1]), ['t2']);

    // Its own status report (shut down) changes neither its assignments nor the table.
    const t1done = cloneObject('task', store.get('task', 't1')!);
    t1done.status = { state: S.TASK_SHUTDOWN };
    host.apply([updateAction('task', t1done)]);
    await turn();
    assert.equal(n1.messages.length, 2);
    assert.equal(n2.messages.length, 2);
  } finally {
    sessions.stop();
  }
});
