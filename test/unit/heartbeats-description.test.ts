// Nodes send their description in every heartbeat; the leader writes it only when it differs
// from the stored one. The comparison is skipped while a node repeats what it last sent and its
// stored node is unchanged, so this checks the cases that must still write: a new description,
// and the stored description changed by something else while the node keeps sending its own.
import test from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createAction, updateAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { Heartbeats } from '../../dispatcher/index.js';

test('a heartbeat writes the description only when it differs from the stored one, also after the stored one changed', async () => {
  const host = new LocalHost();
  const described = (hostname: string): baton.NodeDescription.$Properties => ({ hostname, platform: 'linux/x64', resources: { nanoCpus: 2e9, memoryBytes: 2 ** 30 } });
  host.apply([
    createAction('cluster', { meta: { id: 'c1' }, spec: { annotations: { name: 'default' } } }),
    createAction('node', { meta: { id: 'n1' }, status: { state: baton.NodeState.NODE_READY, addr: '127.0.0.1:1' }, role: baton.NodeRole.WORKER, description: described('a') }),
  ]);
  const hb = new Heartbeats({
    host: { store: host.store, isLeader: () => true, propose: (a) => host.propose(a) },
    guard: () => ({ nodeId: 'n1', role: 'worker' }),
    logger: pino({ level: 'silent' }),
    managers: () => [],
    forward: () => Promise.reject(new Error('not forwarded in this test')),
  });
  const beat = (hostname: string): Promise<unknown> => hb.beat('n1', { addr: '127.0.0.1:1', description: described(hostname) });
  const stored = (): string | null | undefined => host.store.get('node', 'n1')?.description?.hostname;

  const p0 = host.proposals;
  await beat('a');
  await beat('a');
  assert.equal(host.proposals, p0, 'the same description twice: nothing written');
  await beat('b');
  assert.equal(stored(), 'b');
  assert.equal(host.proposals, p0 + 1, 'a new description: one write');
  await beat('b');
  assert.equal(host.proposals, p0 + 1);
  // Something else rewrites the stored description; the node still says 'b': written again.
  const node = host.store.get('node', 'n1')!;
  host.apply([updateAction('node', { ...node, description: described('other') })]);
  const p1 = host.proposals;
  await beat('b');
  assert.equal(stored(), 'b');
  assert.equal(host.proposals, p1 + 1);
});
