// A client writing through a follower while the leader is SIGKILLed (real manager processes):
// every write is answered, acknowledged or refused, well before the 10 s deadline (the follower
// re-forwards to the new leader instead of waiting on the dead one), and every acknowledged
// write is in the store afterwards, once; and the CLI given several managers, the dead one
// first, is answered by the next. The latencies are printed, never asserted.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, baton, leaderOf } from '../lib/baton-cluster.js';
import { connect } from '../../client/index.js';
import { waitFor } from '../lib/wait.js';
import { HUNG_MS, describeOutcomes, writeLoop } from '../lib/write-loop.js';

const WRITES = 60;
const LOOP_MS = 20_000;

test('writes through a follower across a leader SIGKILL: none hangs to its deadline, every acknowledged one stays', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(3);
  const leader = leaderOf(c, 'm1');
  const follower = c.list('manager').find((m) => m.name !== leader.name)!.name;
  const client = connect({ dataDir: c.dataDir(follower) });
  t.after(() => client.close());

  const r = await writeLoop(client, { prefix: 'fo', writes: WRITES, loopMs: LOOP_MS, faultAfter: 5, fault: () => c.kill(leader.name) });
  const { acked, outcomes } = r;
  assert.ok(r.faultAt > 0, 'the leader was killed during the loop');
  t.diagnostic(describeOutcomes(r));
  const hung = outcomes.filter((o) => o.ms >= HUNG_MS);
  assert.deepEqual(hung, [], 'no write waited out a deadline');
  assert.ok(outcomes.some((o) => o.sentAfterFault && o.error === undefined), 'writes are acknowledged again after the kill');
  assert.ok(outcomes.filter((o) => o.sentAfterFault && o.error === undefined).length >= 10, 'the new leader keeps acknowledging writes');

  await waitFor('the survivors agree on a leader', () => leaderOf(c, follower).name !== leader.name);
  const stored = (await client.list('ListSecrets')).map((s) => s.spec?.annotations?.name ?? '');
  const names = new Set(stored);
  assert.equal(names.size, stored.length, 'no secret stored twice');
  assert.deepEqual(acked.filter((n) => !names.has(n)), [], 'every acknowledged write is in the store');

  // The CLI given several managers, the dead one first: the call goes on to the next.
  const hosts = `${c.get(leader.name).addr},${c.get(follower).addr}`;
  const ls = baton(['secret', 'ls', '--host', hosts, '--data-dir', c.dataDir(follower)]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /fo-0\b/);
  const alone = baton(['secret', 'ls', '--host', c.get(leader.name).addr, '--data-dir', c.dataDir(follower)]);
  assert.equal(alone.code, 1, 'the dead manager alone does not answer');
});
