// Three (then four) real kv-server processes on 127.0.0.1 with LevelDB on disk, killed with
// SIGKILL while clients write. What was acknowledged must be on every node, in one order.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { KvCluster, sleep } from '../lib/kv-cluster.js';
import { runClients, type ClientRun } from '../lib/kv-clients.js';
import { assertLinearizable } from '../lib/kv-linearizable.js';
import { waitFor } from '../lib/wait.js';


async function histories(cluster: KvCluster): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const id of cluster.live()) {
    const r = await cluster.request(id, 'GET', '/history');
    out.set(id, r.body.ids as string[]);
  }
  return out;
}

async function assertDurableAndOrdered(cluster: KvCluster, run: ClientRun): Promise<void> {
  await cluster.waitForConvergence(30_000);
  const all = await histories(cluster);
  const [first, ...rest] = [...all.entries()];
  assert.ok(first, 'some node is live');
  const [firstId, order] = first;
  for (const [id, h] of rest) assert.deepEqual(h, order, `node ${id} applied the same writes in the same order as ${firstId}`);
  assert.equal(new Set(order).size, order.length, 'no write applied twice');
  const applied = new Set(order);
  const missing = run.acked.filter((w) => !applied.has(w));
  assert.deepEqual(missing, [], 'every acknowledged write is applied on every node');
}

/** A KvCluster under a temp root; its processes are stopped and the root removed when the test ends. */
function kvCluster(t: { after(fn: () => Promise<void>): void }, extraArgs: string[] = []): KvCluster {
  const root = mkdtempSync(join(tmpdir(), 'baton-raft-mp-'));
  const cluster = new KvCluster(root, extraArgs);
  t.after(async () => {
    await cluster.stopAll();
    rmSync(root, { recursive: true, force: true });
  });
  return cluster;
}

test('acknowledged writes survive 10 SIGKILLs of the leader', async (t) => {
  const cluster = kvCluster(t, ['--snapshot-entries', '500', '--keep-entries', '100']);
  const ids = ['a', 'b', 'c'];
  for (const id of ids) await cluster.define(id);
  await Promise.all(ids.map((id) => cluster.start(id, ids)));
  await cluster.waitForLeader();

  const run = runClients(cluster, 6, 0.3);
  let kills = 0;
  try {
    for (; kills < 10; kills++) {
      const leader = await cluster.waitForLeader();
      // Each leader must make progress before it is killed: liveness, checked on every term.
      const mark = run.acked.length;
      await waitFor(`writes acknowledged under leader ${leader} (kill ${kills + 1})`, () => run.acked.length >= mark + 5, { timeoutMs: 20_000, intervalMs: 20 });
      await cluster.kill(leader);
      await sleep(400);
      await cluster.start(leader, ids);
    }
    const mark = run.acked.length;
    await waitFor('writes acknowledged after the last restart', () => run.acked.length >= mark + 5, { timeoutMs: 20_000, intervalMs: 20 });
  } finally {
    await run.stop();
  }
  assert.equal(kills, 10);
  t.diagnostic(`${run.acked.length} writes acknowledged, ${run.ops.length} operations checked for linearizability`);
  await assertDurableAndOrdered(cluster, run);
  assertLinearizable(run.ops);
});

test('a wiped follower rejoins via snapshot; a fourth node joins and the leader is removed under load', async (t) => {
  const cluster = kvCluster(t, ['--snapshot-entries', '200', '--keep-entries', '20']);
  const ids = ['a', 'b', 'c'];
  for (const id of ids) await cluster.define(id);
  await cluster.define('d');
  await Promise.all(ids.map((id) => cluster.start(id, ids)));
  const leader = await cluster.waitForLeader();

  const run = runClients(cluster, 4, 0.2);
  try {
    // Let the log grow past a few snapshots, then wipe a follower's disk.
    await waitFor('800 writes before wiping a follower', () => run.acked.length >= 800, { timeoutMs: 120_000, intervalMs: 20 });
    const follower = ids.find((id) => id !== leader)!;
    await cluster.kill(follower);
    rmSync(cluster.dataDir(follower), { recursive: true, force: true });
    const before = run.acked.length;
    await waitFor('300 writes while the follower is gone', () => run.acked.length >= before + 300, { timeoutMs: 120_000, intervalMs: 20 });
    await cluster.start(follower, []);
    const caughtUp = await cluster.waitForConvergence(30_000);
    const s = (await cluster.status(follower)) as unknown as { snapshotsInstalled: number; firstIndex: number };
    assert.ok(s.snapshotsInstalled >= 1, 'the wiped follower caught up through a snapshot');
    assert.ok(caughtUp > 1000);

    // Membership under load: add d as a voter, then remove the current leader.
    await cluster.start('d', []);
    let current = await cluster.waitForLeader();
    const add = await cluster.request(current, 'POST', '/members', JSON.stringify({ id: 'd', address: cluster.raftAddress('d') }), {}, 10_000);
    assert.equal(add.status, 200, JSON.stringify(add.body));
    await cluster.waitForConvergence(30_000);
    assert.deepEqual((await cluster.status('d')).voters, ['a', 'b', 'c', 'd']);
    current = await cluster.waitForLeader();
    const removed = current;
    const rm = await cluster.request(current, 'DELETE', `/members/${removed}`, undefined, {}, 10_000);
    assert.equal(rm.status, 200, JSON.stringify(rm.body));
    await sleep(500);
    await cluster.kill(removed);
    const next = await cluster.waitForLeader();
    assert.notEqual(next, removed);
    assert.deepEqual((await cluster.status(next)).voters, ['a', 'b', 'c', 'd'].filter((id) => id !== removed));
    const mark = run.acked.length;
    await waitFor('100 writes after removing the leader', () => run.acked.length >= mark + 100, { timeoutMs: 60_000, intervalMs: 20 });
  } finally {
    await run.stop();
  }
  await assertDurableAndOrdered(cluster, run);
  assertLinearizable(run.ops);
});

test('a node whose stored entry has a flipped byte refuses to start and names the entry', async (t) => {
  const cluster = kvCluster(t);
  await cluster.define('a');
  await cluster.start('a', ['a']);
  await cluster.waitForLeader();
  for (let i = 0; i < 20; i++) assert.equal((await cluster.request('a', 'PUT', `/kv/k${i}`, 'v')).status, 200);
  await cluster.kill('a', 'SIGTERM');

  const db = new Level<Buffer, Buffer>(join(cluster.dataDir('a'), 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const entryKeys: Buffer[] = [];
  for await (const key of db.keys({ gte: Buffer.from('e'), lt: Buffer.from('f') })) entryKeys.push(key);
  const victim = entryKeys[10]!;
  const value = (await db.get(victim));
  value[value.length - 1] = value[value.length - 1]! ^ 0xff;
  await db.put(victim, value);
  await db.close();

  const { code, stderr } = await cluster.runExpectingExit('a');
  assert.equal(code, 2);
  const index = victim.readUInt32BE(5);
  assert.match(stderr, new RegExp(`corrupt.*entry ${index}`), stderr);
  assert.equal(stderr.trim().split('\n').length, 1, 'one clear error line');
});
