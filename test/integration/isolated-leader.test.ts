// A leader cut off the network (each manager on a host of its own, a network namespace; the
// leader's link pulled, so nothing is reset and its peers learn of it only by silence) while a
// client writes through a follower: every write is answered, acknowledged or refused, before
// it could wait out its deadline; the majority elects another leader and goes on; the old
// leader, isolated, steps down (check-quorum) rather than lead alone; healed, it follows, and
// every acknowledged write is stored once. The latencies are printed, never asserted.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, leaderOf } from '../lib/baton-cluster.js';
import { connect } from '../../client/index.js';
import { NetnsHosts, requireNetns } from '../lib/netns.js';
import { waitFor } from '../lib/wait.js';
import { HUNG_MS, describeOutcomes, writeLoop } from '../lib/write-loop.js';

test('a leader cut off the network: writes through a follower never hang, the majority goes on, the old leader steps down and later follows', { timeout: 240_000 }, async (t) => {
  if (!requireNetns(t)) return;
  const hosts = new NetnsHosts(`bt${process.pid}`, 3);
  t.after(() => hosts.remove());
  const c = BatonCluster.forTest(t, [], { hostOf: hosts.hostOf });
  await c.form(3);
  const leader = leaderOf(c, 'm1');
  const leaderIndex = ['m1', 'm2', 'm3'].indexOf(leader.name);
  const follower = c.list('manager').find((m) => m.name !== leader.name)!.name;
  // Through the follower's unix socket: the client is on the follower's host, not cut off.
  const client = connect({ dataDir: c.dataDir(follower) });
  t.after(() => client.close());

  const r = await writeLoop(client, { prefix: 'iso', writes: 60, loopMs: 30_000, faultAfter: 5, fault: () => hosts.isolate(leaderIndex) });
  assert.ok(r.faultAt > 0, 'the leader was cut off during the loop');
  t.diagnostic(describeOutcomes(r));
  assert.deepEqual(r.outcomes.filter((o) => o.ms >= HUNG_MS), [], 'no write waited out a deadline');
  assert.ok(r.outcomes.filter((o) => o.sentAfterFault && o.error === undefined).length >= 10, 'the majority acknowledges writes again');
  const next = leaderOf(c, follower);
  assert.notEqual(next.id, leader.id, 'the majority elected another leader');

  // Still cut off, the old leader no longer claims to lead: Info is answered from the asked
  // manager's own view (no quorum needed), through its unix socket.
  const cutOff = connect({ dataDir: c.dataDir(leader.name) });
  t.after(() => cutOff.close());
  await waitFor('the isolated leader to step down', async () => (await cutOff.control.call('Info', {}, 2_000)).leaderId !== leader.id, { timeoutMs: 15_000, intervalMs: 250 });

  hosts.heal(leaderIndex);
  await waitFor('the healed manager to follow the new leader with every acknowledged write', () => {
    const ls = c.cli(leader.name, ['secret', 'ls', '--format', '{{.Name}}']);
    if (ls.code !== 0) return false;
    const names = ls.stdout.split('\n');
    return r.acked.every((a) => names.filter((n) => n === a).length === 1);
  }, { timeoutMs: 30_000, intervalMs: 250 });
  assert.equal(leaderOf(c, leader.name).id, leaderOf(c, follower).id, 'one leader, the same seen from both');
  const stored = (await client.list('ListSecrets')).map((s) => s.spec?.annotations?.name ?? '');
  assert.equal(new Set(stored).size, stored.length, 'no secret stored twice');
  assert.deepEqual(r.acked.filter((n) => !stored.includes(n)), [], 'every acknowledged write is in the store');
});
