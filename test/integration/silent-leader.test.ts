// A leader that stops answering without closing anything (SIGSTOP: no connection resets, unlike
// a SIGKILL, so the followers learn of it only by silence): the two others elect a leader and
// serve writes; resumed (SIGCONT), the old leader follows the new one with every acknowledged
// write in place, none applied twice. The times are reported as diagnostics (README, Raft
// failover), not asserted: performance lives in benchmarks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, leaderOf } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

test('a silent leader (SIGSTOP): the majority elects another and serves writes; resumed, it follows and nothing is lost', { timeout: 180_000 }, async (t) => {
  const c = BatonCluster.forTest(t, [], { addressPerNode: true });
  await c.form(3);
  const leader = leaderOf(c, 'm1');
  const follower = c.list('manager').find((m) => m.name !== leader.name)!;
  const pid = c.get(leader.name).proc.pid!;
  const resume = (): void => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Already gone: the cluster's teardown killed it.
    }
  };
  t.after(resume);

  assert.equal(c.cli(follower.name, ['network', 'create', 'before']).code, 0);
  process.kill(pid, 'SIGSTOP');
  const stoppedAt = Date.now();

  // Writes through a follower, one after the other, until five are acknowledged (bounded).
  const acknowledged = ['before'];
  let firstWriteMs: number | undefined;
  for (let i = 0; i < 20 && acknowledged.length < 6; i++) {
    const name = `during-${i}`;
    if (c.cli(follower.name, ['network', 'create', name]).code === 0) {
      acknowledged.push(name);
      firstWriteMs ??= Date.now() - stoppedAt;
    }
  }
  assert.ok(firstWriteMs !== undefined, 'the majority acknowledged writes while the leader was silent');
  const next = leaderOf(c, follower.name);
  assert.notEqual(next.id, leader.id, 'another manager leads');
  t.diagnostic(`first write acknowledged by the majority ${firstWriteMs} ms after the leader went silent`);
  process.stdout.write(`# silent leader: first majority write after ${firstWriteMs} ms\n`);

  resume();
  await waitFor('the old leader to list every acknowledged network, once each', () => {
    const r = c.cli(leader.name, ['network', 'ls', '--format', '{{.Name}}']);
    if (r.code !== 0) return false;
    const names = r.stdout.split('\n').filter((n) => n !== '');
    return acknowledged.every((a) => names.filter((n) => n === a).length === 1);
  }, { timeoutMs: 30_000, intervalMs: 250 });
  assert.equal(leaderOf(c, leader.name).id, next.id, 'resumed, it follows the leader the majority elected');
});
