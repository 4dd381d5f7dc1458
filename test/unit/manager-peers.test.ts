// The managers a heartbeat reply names (managerPeers): only managers with an address, the leader
// first, then by id whatever order the nodes were written in, since nodes compare the list they
// hold with each reply's to notice a change.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { managerPeers } from '../../manager/controlapi/index.js';
import type { Manager } from '../../manager/manager.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { createAction } from '../../manager/store/index.js';

function node(id: string, role: baton.NodeRole, addr?: string) {
  return createAction('node', { meta: { id }, role, ...(addr ? { managerStatus: { addr } } : {}), spec: { desiredRole: role } });
}

test('managerPeers names the managers with an address, the leader first, then by id', () => {
  const host = new LocalHost();
  host.apply([
    node('n-worker-1', baton.NodeRole.WORKER),
    node('m-c', baton.NodeRole.MANAGER, '127.0.0.3:4242'),
    node('m-a', baton.NodeRole.MANAGER, '127.0.0.1:4242'),
    node('m-joining', baton.NodeRole.MANAGER),
    node('m-b', baton.NodeRole.MANAGER, '127.0.0.2:4242'),
    node('n-worker-0', baton.NodeRole.WORKER),
  ]);
  let leader = 'm-b';
  const manager = { store: host.store, leaderId: () => leader } as unknown as Manager;
  assert.deepEqual(managerPeers(manager), [
    { nodeId: 'm-b', addr: '127.0.0.2:4242' },
    { nodeId: 'm-a', addr: '127.0.0.1:4242' },
    { nodeId: 'm-c', addr: '127.0.0.3:4242' },
  ]);
  leader = 'm-c';
  assert.deepEqual(
    managerPeers(manager).map((p) => p.nodeId),
    ['m-c', 'm-a', 'm-b'],
  );
  leader = '';
  assert.deepEqual(
    managerPeers(manager).map((p) => p.nodeId),
    ['m-a', 'm-b', 'm-c'],
  );
});
