// The mesh table at scale (issue 17): a node joining or going down makes the leader recompute the
// table, and that must read only the tasks of the services in it. Before, every recompute listed
// and sorted the whole task table (100,000 tasks at 1,000 nodes), once per node state change,
// even when no service publishes a port.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, updateAction, type ClusterStore } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { leaderSessions, meshBackends, openSession, turn } from '../lib/session-fixture.js';

const S = baton.TaskState;

/** Counts the tasks the store hands out, by service (list() reads through scan()). */
function countTaskReads(store: ClusterStore): Map<string, number> {
  const reads = new Map<string, number>();
  const scan = store.scan.bind(store);
  store.scan = ((kind: Parameters<ClusterStore['scan']>[0], filter?: Parameters<ClusterStore['scan']>[1]) => {
    const out = scan(kind, filter);
    if (kind === 'task') for (const t of out as { serviceId: string }[]) reads.set(t.serviceId, (reads.get(t.serviceId) ?? 0) + 1);
    return out;
  }) as ClusterStore['scan'];
  return reads;
}

test("a node's state change recomputes the mesh table from the published services' tasks only", async () => {
  const host = new LocalHost();
  const nodes = ['n1', 'n2', 'n3'];
  host.apply([
    ...nodes.map((id, i) => createAction('node', { meta: { id }, status: { state: baton.NodeState.NODE_READY, addr: `127.0.0.${i + 1}:4242` }, role: baton.NodeRole.WORKER })),
    // "batch" publishes nothing (as every service of bench:scale); "web" publishes 8080.
    createAction('service', { meta: { id: 'batch' }, spec: { annotations: { name: 'batch' } } }),
    createAction('service', { meta: { id: 'web' }, spec: { annotations: { name: 'web' } }, endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] } }),
    ...Array.from({ length: 300 }, (_, i) =>
      createAction('task', { meta: { id: `b${i}` }, serviceId: 'batch', nodeId: nodes[i % 3]!, desiredState: S.TASK_RUNNING, status: { state: S.TASK_RUNNING } }),
    ),
    ...nodes.map((nodeId, i) =>
      createAction('task', {
        meta: { id: `w${i}` },
        serviceId: 'web',
        nodeId,
        desiredState: S.TASK_RUNNING,
        status: { state: S.TASK_RUNNING, ports: [{ targetPort: 80, hostPort: 31000 + i }] },
        endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] },
      }),
    ),
  ]);
  const sessions = leaderSessions(host);
  const streams = nodes.map((id) => openSession(sessions, id));
  assert.deepEqual(meshBackends(streams[0]!.messages[0]).sort(), ['w0', 'w1', 'w2']);

  const reads = countTaskReads(host.store);
  const n3 = cloneObject('node', host.store.get('node', 'n3')!);
  n3.status = { ...n3.status, state: baton.NodeState.NODE_DOWN };
  host.apply([updateAction('node', n3)]);
  await turn();

  assert.equal(reads.get('batch') ?? 0, 0, 'no task of a service outside the table was read');
  assert.ok((reads.get('web') ?? 0) > 0, "the table's service's tasks were read");
  // The table changed (n3's backend left it): every session got it, once.
  for (const s of streams) {
    const sent = s.messages.slice(1);
    assert.equal(sent.length, 1, `${s.nodeId}: one message`);
    assert.deepEqual(meshBackends(sent[0]).sort(), ['w0', 'w1']);
  }
  sessions.stop();
});

test('a change that leaves the mesh table as it was sends nothing to any session', async () => {
  const host = new LocalHost();
  host.apply([
    ...['n1', 'n2'].map((id, i) => createAction('node', { meta: { id }, status: { state: baton.NodeState.NODE_READY, addr: `127.0.0.${i + 1}:4242` }, role: baton.NodeRole.WORKER })),
    createAction('service', { meta: { id: 'batch' }, spec: { annotations: { name: 'batch' } } }),
  ]);
  const sessions = leaderSessions(host);
  const streams = ['n1', 'n2'].map((id) => openSession(sessions, id));
  host.apply([createAction('node', { meta: { id: 'n3' }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.3:4242' }, role: baton.NodeRole.WORKER })]);
  await turn();
  await turn();
  for (const s of streams) assert.equal(s.messages.length, 1, `${s.nodeId}: the full set only`);
  sessions.stop();
});
