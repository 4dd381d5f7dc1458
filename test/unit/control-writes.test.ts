// The daemon serves the Control service twice (the TCP port, the local socket), each behind its
// own guard. Service writes must still run one at a time across both: a port is allocated from
// the store as the previous write left it, so two creates that interleave would both be given
// the same published port.
import test from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { baton } from '../../proto/gen/baton.js';
import type { Manager } from '../../manager/manager.js';
import type { LeaderForwarder } from '../../manager/forward.js';
import { controlHandlers } from '../../manager/controlapi/index.js';
import { localGuard } from '../../rpc/caller.js';
import { SlowLeader } from '../lib/slow-leader.js';


test('creates arriving on the TCP entry and the socket entry at once get different published ports', async () => {
  const leader = new SlowLeader();
  const deps = {
    manager: leader as unknown as Manager,
    forwarder: {} as LeaderForwarder,
    guard: localGuard,
    clusterId: 'c',
    managerKey: new Uint8Array(32),
  };
  const [tcp, socket] = controlHandlers(deps, [localGuard, localGuard]);
  const create = (name: string): baton.CreateServiceRequest.$Properties => ({
    spec: {
      annotations: { name },
      replicas: 1,
      task: { runtime: 'process', container: { command: ['/bin/true'] } },
      endpoint: { ports: [{ targetPort: 80 }] },
    },
    noResolveImage: true,
  });
  const call = {} as grpc.ServerUnaryCall<baton.CreateServiceRequest, baton.Service>;
  const [a, b] = await Promise.all([tcp!.CreateService(create('a'), call), socket!.CreateService(create('b'), call)]);
  const portOf = (s: baton.Service.$Properties): number => Number(s.endpoint?.ports?.[0]?.publishedPort ?? 0);
  assert.ok(portOf(a) > 0 && portOf(b) > 0, 'both were given a port');
  assert.notEqual(portOf(a), portOf(b));
  assert.equal(leader.store.list('service').length, 2);
});
