// Health through the dispatcher: a node's RUNNING -> RUNNING status reports carrying a new health
// are accepted into the store (statusActions refuses only a state that goes back), and the mesh
// table every session receives follows them: starting and unhealthy tasks are not backends.
// Sessions against a real store (LocalHost, no Raft): test/lib/session-fixture.ts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { createAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import type { Sessions } from '../../dispatcher/index.js';
import { FakeSessionStream, leaderSessions, meshBackends, openSession, turn } from '../lib/session-fixture.js';

const S = baton.TaskState;
const H = baton.HealthState;

/** The backends of the newest table the stream was sent. */
function lastBackends(s: FakeSessionStream): string[] {
  return meshBackends([...s.messages].reverse().find((m) => m.meshSet));
}

test('RUNNING -> RUNNING reports with a new health are accepted, and only healthy or unchecked tasks are mesh backends', async () => {
  const host = new LocalHost();
  const store = host.store;
  host.apply([
    createAction('node', { meta: { id: 'n1' }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:4242' }, role: baton.NodeRole.WORKER }),
    createAction('service', { meta: { id: 'web' }, spec: { annotations: { name: 'web' } }, endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] } }),
  ]);
  for (const [id, hostPort, health] of [['checked', 31001, H.HEALTH_STARTING], ['plain', 31002, H.HEALTH_NONE]] as const) {
    host.apply([
      createAction('task', {
        meta: { id },
        serviceId: 'web',
        nodeId: 'n1',
        desiredState: S.TASK_RUNNING,
        status: { state: S.TASK_RUNNING, ports: [{ targetPort: 80, hostPort }], health, timestamp: 1000 },
        endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] },
      }),
    ]);
  }
  const sessions = leaderSessions(host);
  const stream = openSession(sessions, 'n1');
  const report = async (status: baton.TaskStatus.$Properties): Promise<void> => {
    const call = { nodeId: 'n1' } as unknown as Parameters<ReturnType<Sessions['handlers']>['UpdateTaskStatus']>[1];
    await sessions.handlers().UpdateTaskStatus({ updates: [{ taskId: 'checked', status }] }, call);
    await turn();
  };
  const running = (health: baton.HealthState): baton.TaskStatus.$Properties => ({
    state: S.TASK_RUNNING,
    ports: [{ targetPort: 80, hostPort: 31001 }],
    health,
    timestamp: 1000,
  });
  try {
    assert.deepEqual(lastBackends(stream), ['plain'], 'a starting task is not a backend; one without a check is');

    await report(running(H.HEALTH_HEALTHY));
    assert.equal(store.get('task', 'checked')?.status?.health, H.HEALTH_HEALTHY, 'RUNNING -> RUNNING with a new health is accepted');
    assert.equal(store.get('task', 'checked')?.status?.state, S.TASK_RUNNING);
    assert.deepEqual(lastBackends(stream).sort(), ['checked', 'plain']);

    await report(running(H.HEALTH_UNHEALTHY));
    assert.equal(store.get('task', 'checked')?.status?.health, H.HEALTH_UNHEALTHY);
    assert.deepEqual(lastBackends(stream), ['plain'], 'an unhealthy task is no backend, even before it is stopped');

    await report({ state: S.TASK_FAILED, err: 'unhealthy container', health: H.HEALTH_UNHEALTHY, timestamp: 2000 });
    assert.equal(store.get('task', 'checked')?.status?.err, 'unhealthy container');

    // Finished is final: a late health report cannot bring it back.
    await report(running(H.HEALTH_HEALTHY));
    assert.equal(store.get('task', 'checked')?.status?.state, S.TASK_FAILED);
    assert.deepEqual(lastBackends(stream), ['plain']);
  } finally {
    sessions.stop();
  }
});
