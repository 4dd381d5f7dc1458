// A leader cut off from its followers, in the deterministic simulator: check-quorum makes it
// step down within two election timeouts, and the driver's bookkeeping (raft/pending.ts) fails
// its waiting proposals at that moment with a retryable LEADERSHIP_LOST, not at their deadline.
// Seeded and replayable:  SIM_SEED=17 node scripts/run-tests.mjs raft-stepdown
import test from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, DEFAULT_CORE } from './cluster.js';
import { encodePut } from './kv.js';
import { RELIABLE } from './network.js';
import { PendingProposals } from '../../raft/pending.js';
import { RaftError } from '../../raft/errors.js';
import type { SimNode } from './sim-node.js';

const TICK = 4;
const ELECTION = DEFAULT_CORE.electionTick * TICK;

interface Outcome {
  node: string;
  index: number;
  term: number;
  settledAt?: number;
  /** 'ok', or the RaftError code it failed with. */
  result?: string;
}

function run(seed: number): void {
  const c = new Cluster({ seed, size: 5, core: { ...DEFAULT_CORE, checkQuorum: true }, tickUnits: TICK, net: RELIABLE, readyCrashChance: 0, traceCapacity: 500 });
  // One driver's pending table per node, fed as raft/node.ts feeds it.
  const pending = new Map<string, PendingProposals<string>>();
  const table = (n: SimNode) => pending.get(n.id) ?? pending.set(n.id, new PendingProposals<string>()).get(n.id)!;
  c.applyListeners.push((n, e) => table(n).applied(e, 'applied'));
  c.softStateListeners.push((n, soft, term) => table(n).leadershipChanged(soft, term));
  const outcomes: Outcome[] = [];
  const propose = (n: SimNode, i: number) => {
    const r = c.propose(n, encodePut({ key: `k${i}`, value: String(i), id: `w${i}` }));
    if (!r.ok) return;
    const o: Outcome = { node: n.id, index: r.index, term: r.term };
    outcomes.push(o);
    table(n).add(r.index, r.term, {
      resolve: () => {
        o.result = 'ok';
        o.settledAt = c.now;
      },
      reject: (e) => {
        o.result = (e as RaftError).code;
        o.settledAt = c.now;
      },
      cancel: () => {},
    });
  };

  assert.ok(c.runUntil(() => c.leaders().length === 1, 20 * ELECTION), `seed ${seed}: no leader`);
  const old = c.leader()!;
  for (let i = 0; i < 3; i++) propose(old, i);
  c.run(c.rng.range(0, ELECTION));
  c.net.isolate(old.id, c.liveIds());
  const isolatedAt = c.now;
  for (let i = 3; i < 6; i++) propose(old, i);
  const afterIsolation = outcomes.slice(-3);
  const stepped = c.runUntil(() => c.status(old).role !== 'leader', 2 * ELECTION + 2 * TICK);
  assert.ok(stepped, `seed ${seed}: the isolated leader did not step down within two election timeouts`);
  const mine = outcomes.filter((o) => o.node === old.id);
  const waiting = mine.filter((o) => o.result === undefined);
  assert.deepEqual(waiting, [], `seed ${seed}: proposals still waiting after the step-down`);
  for (const o of mine) {
    assert.ok(o.result === 'ok' || o.result === 'LEADERSHIP_LOST', `seed ${seed}: proposal ${o.index} ended ${o.result ?? 'unanswered'}`);
    if (o.result === 'LEADERSHIP_LOST') assert.ok(o.settledAt! - isolatedAt <= 2 * ELECTION + 2 * TICK, `seed ${seed}: failed late`);
  }
  // Proposed while cut off: they cannot commit through this leader, and are failed, not left waiting.
  for (const o of afterIsolation) assert.equal(o.result, 'LEADERSHIP_LOST', `seed ${seed}: proposal ${o.index} made while isolated`);
  // The majority goes on; after healing every acknowledged proposal is applied everywhere with
  // the term it was proposed in, and none failed ever reports success.
  assert.ok(c.runUntil(() => c.leaders().some((l) => l.id !== old.id), 20 * ELECTION), `seed ${seed}: no new leader`);
  c.net.healAll();
  const next = c.leaders().find((l) => l.id !== old.id)!;
  propose(next, 100);
  assert.ok(c.runUntil(() => outcomes.every((o) => o.result !== undefined) && c.upNodes().every((n) => n.applied >= c.status(next).commit), 40 * ELECTION), `seed ${seed}: did not settle`);
  for (const o of outcomes.filter((x) => x.result === 'ok')) {
    assert.equal(c.inv.appliedAt(o.index)?.term, o.term, `seed ${seed}: acknowledged proposal ${o.index} is not what was applied there`);
  }
}

const single = process.env.SIM_SEED;
if (single !== undefined) {
  test(`replay seed ${single}`, () => run(Number(single)));
} else {
  test('an isolated leader steps down by check-quorum and fails its waiting proposals at once (200 seeds)', () => {
    for (let seed = 1; seed <= 200; seed++) run(seed);
  });
}
