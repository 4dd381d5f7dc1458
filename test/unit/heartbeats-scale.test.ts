// Liveness at scale (issue 17): the period the leader tells grows with the cluster so that its
// heartbeat load stays under max_heartbeats_per_second; a small cluster still finds a dead node
// after grace x period; and time the leader itself was not serving (its event loop held) is
// nobody's silence. Clocks are fake where a figure is asserted: nothing here depends on speed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { createAction } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { Heartbeats, type HeartbeatDeps } from '../../dispatcher/index.js';
import { waitFor } from '../lib/wait.js';

const READY = baton.NodeState.NODE_READY;
const DOWN = baton.NodeState.NODE_DOWN;

function cluster(nodes: number, spec: baton.ClusterSpec.$Properties = {}): { host: LocalHost; ids: string[] } {
  const host = new LocalHost();
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  host.apply([
    createAction('cluster', { meta: { id: 'c1' }, spec: { annotations: { name: 'default' }, ...spec } }),
    ...ids.map((id) => createAction('node', { meta: { id }, status: { state: READY, addr: '127.0.0.1:1' }, role: baton.NodeRole.WORKER })),
  ]);
  return { host, ids };
}

function heartbeats(host: LocalHost, extra: Partial<HeartbeatDeps> = {}): Heartbeats {
  return new Heartbeats({
    host: { store: host.store, isLeader: () => true, propose: (a) => host.propose(a) },
    guard: () => ({ nodeId: 'n0', role: 'worker' }),
    logger: pino({ level: 'silent' }),
    managers: () => [],
    forward: () => Promise.reject(new Error('not forwarded in this test')),
    ...extra,
  });
}

async function told(hb: Heartbeats, ids: string[]): Promise<number[]> {
  const periods: number[] = [];
  for (const id of ids) periods.push(Number((await hb.beat(id, { addr: '127.0.0.1:1' })).periodMs));
  return periods;
}

test("the period told grows with the cluster: the leader's heartbeats/s stay under the limit", async () => {
  // 1,000 nodes at the default 200/s: 5 s each, plus up to 10% of jitter.
  const big = cluster(1000);
  const periods = await told(heartbeats(big.host), big.ids);
  assert.ok(Math.min(...periods) >= 5000, `shortest period told ${Math.min(...periods)} ms`);
  assert.ok(Math.max(...periods) <= 5500, `longest period told ${Math.max(...periods)} ms`);
  const perSecond = periods.reduce((sum, p) => sum + 1000 / p, 0);
  assert.ok(perSecond <= 200, `${perSecond.toFixed(1)} heartbeats/s asked of the leader`);
  assert.ok(new Set(periods).size > 100, 'the periods are jittered, so that nodes drift apart');

  // The limit is the cluster's setting.
  const limited = cluster(1000, { maxHeartbeatsPerSecond: 50 });
  const slow = await told(heartbeats(limited.host, { random: () => 0 }), ['n0']);
  assert.deepEqual(slow, [20_000]);

  // A small cluster keeps the configured period (1 s by default, here 2 s).
  const small = cluster(3, { heartbeatPeriodMs: 2000 });
  const few = await told(heartbeats(small.host, { random: () => 0 }), small.ids);
  assert.deepEqual(few, [2000, 2000, 2000]);
});

test('a small cluster finds a dead node after grace x period; a 1,000-node one after its period plus the grace', async () => {
  let now = 1_000_000;
  const clock = { now: () => now, random: () => 0 };
  const state = (host: LocalHost, id: string): baton.NodeState | null | undefined => host.store.get('node', id)?.status?.state;

  // 3 nodes, period 1 s, grace 3: down after 3 s of silence, not before.
  const small = cluster(3);
  const hb = heartbeats(small.host, clock);
  await told(hb, small.ids);
  now += 2_900;
  await told(hb, ['n1', 'n2']);
  await hb.check();
  assert.equal(state(small.host, 'n0'), READY, 'silent for 2.9 s: not yet down');
  now += 200;
  await hb.check();
  assert.equal(state(small.host, 'n0'), DOWN, 'silent for 3.1 s: down');
  assert.equal(state(small.host, 'n1'), READY);

  // 1,000 nodes: each is told 5 s, and is down 2 s (grace - 1 periods of 1 s) after that.
  now = 1_000_000;
  const big = cluster(1000);
  const hbBig = heartbeats(big.host, clock);
  await told(hbBig, ['n0', 'n1']);
  now += 6_900;
  await told(hbBig, ['n1']);
  await hbBig.check();
  assert.equal(state(big.host, 'n0'), READY, 'silent for 6.9 s after being told 5 s: not yet down');
  now += 200;
  await hbBig.check();
  assert.equal(state(big.host, 'n0'), DOWN, 'silent for 7.1 s after being told 5 s: down');
  assert.equal(state(big.host, 'n1'), READY);
});

test("time the leader was not serving is nobody's silence; silence after it still counts", async () => {
  // The event loop held for 5 s (a long pass, a snapshot): the clock jumps while no timer runs.
  let offset = 0;
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  // A 100 ms period and a grace of 5: a node is down after 500 ms of silence.
  const { host, ids } = cluster(4, { heartbeatPeriodMs: 100, heartbeatGrace: 5 });
  const hb = heartbeats(host, { now: () => Date.now() + offset, random: () => 0, logger });
  hb.start();
  try {
    await told(hb, ids);
    offset += 5_000;
    await waitFor('the leader to notice its own pause', () => lines.some((l) => l.includes('the leader was not serving')), { timeoutMs: 10_000, intervalMs: 10 });
    assert.equal(host.proposals, 0, 'no node marked down for the leader’s own pause');
    assert.ok(ids.every((id) => host.store.get('node', id)?.status?.state === READY));

    // After the pause, a node that stays silent is still found (the others keep beating).
    const beat = setInterval(() => void told(hb, ['n1', 'n2', 'n3']), 20);
    try {
      await waitFor('the silent node down', () => host.store.get('node', 'n0')?.status?.state === DOWN, { timeoutMs: 10_000, intervalMs: 20 });
    } finally {
      clearInterval(beat);
    }
    assert.ok(['n1', 'n2', 'n3'].every((id) => host.store.get('node', id)?.status?.state === READY));
  } finally {
    hb.stop();
  }
});
