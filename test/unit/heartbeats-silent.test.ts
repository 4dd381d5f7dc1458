// Nodes that stop heartbeating are marked down together: every node silent past the grace goes
// down in one proposal (a hundred nodes lost at once must not cost a hundred Raft rounds in a
// row before the orchestrators see them), and a node still heartbeating stays Ready.
import test from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { Heartbeats } from '../../dispatcher/index.js';
import { waitFor } from '../lib/wait.js';

test('every node silent past the grace is marked down in one proposal; a live one stays Ready', async () => {
  const host = new LocalHost();
  const ids = ['a', 'b', 'c', 'live'];
  host.apply([
    // A 100 ms period and a grace of 2: silent after 200 ms.
    createAction('cluster', { meta: { id: 'c1' }, spec: { annotations: { name: 'default' }, heartbeatPeriodMs: 100, heartbeatGrace: 2 } }),
    ...ids.map((id) => createAction('node', { meta: { id }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:1' }, role: baton.NodeRole.WORKER })),
  ]);
  const hb = new Heartbeats({
    host: { store: host.store, isLeader: () => true, propose: (a) => host.propose(a) },
    guard: () => ({ nodeId: 'live', role: 'worker' }),
    logger: pino({ level: 'silent' }),
    managers: () => [],
    forward: () => Promise.reject(new Error('not forwarded in this test')),
  });
  hb.start();
  const beat = setInterval(() => void hb.beat('live', { addr: '127.0.0.1:1' }), 50);
  try {
    const state = (id: string): baton.NodeState | null | undefined => host.store.get('node', id)?.status?.state;
    await waitFor('the silent nodes down', () => ['a', 'b', 'c'].every((id) => state(id) === baton.NodeState.NODE_DOWN), { timeoutMs: 5_000, intervalMs: 20 });
    assert.equal(host.proposals, 1, 'the three silent nodes went down in one proposal');
    assert.equal(state('live'), baton.NodeState.NODE_READY);
    assert.equal(host.store.get('node', 'a')?.status?.message, 'heartbeat failure');
  } finally {
    clearInterval(beat);
    hb.stop();
  }
});
