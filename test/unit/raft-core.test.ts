// Focused scenarios for the pure core on a perfect in-memory network; the randomized fault
// injection lives in test/sim.
import test from 'node:test';
import assert from 'node:assert/strict';
import { RawNode, bootstrapState } from '../../raft/core/raw-node.js';
import { ConfChangeType, EMPTY, EntryType, type Entry, type Message, type PersistedState } from '../../raft/core/types.js';
import { testRaftConfig } from '../lib/raft-config.js';

class Cluster {
  readonly nodes = new Map<string, RawNode>();
  readonly applied = new Map<string, Entry[]>();
  readonly stores = new Map<string, PersistedState>();
  readonly down = new Set<string>();
  private queue: Message[] = [];

  constructor(ids: string[]) {
    ids.forEach((id, i) => this.start(id, bootstrapState(ids), i + 1));
  }

  start(id: string, state: PersistedState, seed: number): void {
    this.stores.set(id, structuredClone(state));
    this.nodes.set(id, new RawNode(testRaftConfig(id, { seed }), state));
    this.applied.set(id, []);
  }

  /** Run ready/advance loops and deliver messages until quiet. */
  settle(limit = 10_000): void {
    for (let i = 0; i < limit; i++) {
      let busy = false;
      for (const [id, node] of this.nodes) {
        if (!node.hasReady()) continue;
        busy = true;
        const rd = node.ready();
        const store = this.stores.get(id)!;
        if (rd.snapshot) {
          store.snapshot = rd.snapshot;
          store.entries = [];
          this.applied.set(id, []);
        }
        if (rd.entries.length > 0) {
          const first = rd.entries[0]!.index;
          store.entries = store.entries.filter((e) => e.index < first).concat(rd.entries);
        }
        if (rd.hardState) store.hardState = rd.hardState;
        for (const m of [...rd.earlyMessages, ...rd.messages]) this.queue.push(m);
        this.applied.get(id)!.push(...rd.committedEntries);
        node.advance();
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.down.has(m.to) || this.down.has(m.from)) continue;
        this.nodes.get(m.to)?.step(m);
        busy = true;
      }
      if (!busy) return;
    }
    throw new Error('cluster did not settle');
  }

  tick(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (!this.down.has(id)) node.tick();
      this.settle();
    }
  }

  leader(): RawNode | undefined {
    const leaders = [...this.nodes.entries()].filter(([id, n]) => !this.down.has(id) && n.status().role === 'leader');
    return leaders[leaders.length - 1]?.[1];
  }

  data(id: string): string[] {
    return this.applied
      .get(id)!
      .filter((e) => e.type === EntryType.ENTRY_NORMAL && e.data.length > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }
}

const enc = (s: string) => new TextEncoder().encode(s);

/** Nodes a, b and c, ticked until one of them leads. */
function elected(): { c: Cluster; leader: RawNode } {
  const c = new Cluster(['a', 'b', 'c']);
  c.tick(40);
  const leader = c.leader();
  if (!leader) throw new Error('no leader after 40 ticks');
  return { c, leader };
}

test('three nodes elect one leader and replicate in order', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.tick(40);
  const leader = c.leader();
  assert.ok(leader, 'a leader is elected');
  for (let i = 0; i < 20; i++) assert.equal(leader.propose(enc(`v${i}`)).ok, true);
  c.settle();
  const want = Array.from({ length: 20 }, (_, i) => `v${i}`);
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.data(id), want, `node ${id} applied everything in order`);
});

test('a follower refuses proposals and names the leader', () => {
  const { c, leader } = elected();
  const follower = [...c.nodes.values()].find((n) => n !== leader)!;
  const r = follower.propose(enc('x'));
  assert.deepEqual(r, { ok: false, reason: 'not-leader', leader: leader.id });
});

test('a single node elects itself and commits alone', () => {
  const c = new Cluster(['solo']);
  c.tick(30);
  const leader = c.leader()!;
  assert.equal(leader.id, 'solo');
  leader.propose(enc('one'));
  c.settle();
  assert.deepEqual(c.data('solo'), ['one']);
});

test("a lone voter leads only once its vote for itself is durable, so a crash before cannot reuse the term's indexes", () => {
  const boot = bootstrapState(['solo']);
  const node = new RawNode(testRaftConfig('solo', { seed: 1 }), structuredClone(boot));
  // The bootstrap Ready (its configuration entry), written and advanced.
  node.ready();
  node.advance();
  node.campaign();
  assert.equal(node.status().role, 'candidate', 'its vote is not on disk yet: it cannot have won');
  const refused = node.propose(enc('too early'));
  assert.equal(refused.ok, false, 'no proposal may get an (index, term) of a term not yet durable');
  const rd = node.ready();
  assert.deepEqual(rd.hardState && { term: rd.hardState.term, vote: rd.hardState.vote }, { term: 2, vote: 'solo' });
  assert.equal(node.status().role, 'candidate', 'handing the vote out for writing is not writing it');

  // A crash before that write completes: the restarted node is back in term 1 and wins term 2
  // again. Nothing of the first attempt at term 2 may name an (index, term).
  const again = new RawNode(testRaftConfig('solo', { seed: 2 }), { ...structuredClone(boot), hardState: { term: 1, vote: '', commit: 1 } });
  again.ready();
  again.advance();
  again.campaign();
  assert.equal(again.propose(enc('other')).ok, false);

  // The write completed: now it leads, and proposals are taken in term 2.
  node.advance();
  assert.equal(node.status().role, 'leader');
  const accepted = node.propose(enc('after'));
  assert.ok(accepted.ok && accepted.term === 2);
});

test('a candidate whose term moved on while its vote was being written does not count that vote', () => {
  const boot = bootstrapState(['solo']);
  const node = new RawNode(testRaftConfig('solo', { seed: 3 }), structuredClone(boot));
  node.ready();
  node.advance();
  node.campaign();
  node.ready(); // term 2, voted for itself: being written
  node.campaign(); // a second campaign (an election timeout) before the write completed: term 3
  node.advance(); // the term-2 write completed: not the vote the term-3 candidate needs
  assert.equal(node.status().role, 'candidate');
  assert.equal(node.status().term, 3);
  node.ready();
  node.advance();
  assert.equal(node.status().role, 'leader');
  assert.equal(node.status().term, 3);
});

test('losing the leader elects another, and the old one rejoins as follower', () => {
  const { c, leader: old } = elected();
  old.propose(enc('before'));
  c.settle();
  c.down.add(old.id);
  c.tick(60);
  const next = c.leader()!;
  assert.notEqual(next.id, old.id);
  assert.equal(next.propose(enc('after')).ok, true);
  c.settle();
  c.down.delete(old.id);
  c.tick(30);
  assert.equal(old.status().role, 'follower');
  assert.deepEqual(c.data(old.id), ['before', 'after']);
});

test('a leader whose connections broke is replaced within one election spread, not after a whole timeout', () => {
  // Without the report: the followers wait out a whole election timeout of silence (10 ticks here).
  const quiet = elected();
  quiet.c.down.add(quiet.leader.id);
  quiet.c.tick(9);
  assert.equal(quiet.c.leader(), undefined, 'no new leader before an election timeout has passed');

  const { c, leader: old } = elected();
  const term = old.status().term;
  c.down.add(old.id);
  for (const [id, n] of c.nodes) if (id !== old.id) n.leaderLost(old.id);
  c.tick(10);
  const next = c.leader();
  assert.ok(next && next.id !== old.id, 'a follower led within 10 ticks of the report');
  assert.equal(next.status().term, term + 1, 'one election, no split vote');
});

test('one follower that lost its connection to a live leader does not depose it', () => {
  const { c, leader } = elected();
  const term = leader.status().term;
  const follower = [...c.nodes.values()].find((n) => n !== leader)!;
  follower.leaderLost(leader.id);
  // Reported again and again, as a flapping connection would.
  for (let i = 0; i < 5; i++) {
    c.tick(10);
    follower.leaderLost(leader.id);
  }
  assert.equal(c.leader()?.id, leader.id, 'the same leader');
  assert.equal(leader.status().term, term, 'no new term: the other follower, still in its lease, refused the pre-votes');
  // Reports about a node that is not the leader change nothing either.
  const other = [...c.nodes.values()].find((n) => n !== leader && n !== follower)!;
  follower.leaderLost(other.id);
  c.tick(30);
  assert.equal(leader.status().term, term);
});

test('check-quorum: an isolated leader steps down', () => {
  const { c, leader: old } = elected();
  for (const id of c.nodes.keys()) if (id !== old.id) c.down.add(id);
  c.tick(25);
  assert.notEqual(old.status().role, 'leader');
});

test('ReadIndex on leader and follower returns the commit index after a quorum round', () => {
  const { c, leader } = elected();
  leader.propose(enc('w'));
  c.settle();
  const follower = [...c.nodes.values()].find((n) => n !== leader)!;
  assert.equal(follower.readIndex(enc('r1')), true);
  c.settle();
  c.tick(2);
  // readStates are drained by settle(); ask again and read the Ready ourselves.
  assert.equal(leader.readIndex(enc('r2')), true);
  const rds: number[] = [];
  for (let i = 0; i < 20 && rds.length === 0; i++) {
    for (const [id, node] of c.nodes) {
      if (!node.hasReady()) continue;
      const rd = node.ready();
      for (const r of rd.readStates) if (id === leader.id) rds.push(r.index);
      for (const m of [...rd.earlyMessages, ...rd.messages]) c.nodes.get(m.to)!.step(m);
      node.advance();
    }
  }
  assert.deepEqual(rds, [leader.status().commit]);
});

test('leadership transfer hands over to the chosen voter', () => {
  const { c, leader } = elected();
  const target = [...c.nodes.keys()].find((id) => id !== leader.id)!;
  assert.equal(leader.transferLeadership(target), true);
  c.settle();
  c.tick(2);
  assert.equal(c.leader()!.id, target);
});

test('a node added after compaction catches up through a chunked snapshot', () => {
  const { c, leader } = elected();
  for (let i = 0; i < 30; i++) leader.propose(enc(`v${i}`));
  c.settle();
  // Every node compacts with a tiny state-machine snapshot (the applied values).
  for (const [id, node] of c.nodes) {
    const snap = node.compact(node.status().applied, enc(c.data(id).join(',')));
    c.stores.get(id)!.snapshot = snap;
  }
  c.start('d', { hardState: { term: 0, vote: '', commit: 0 }, snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: EMPTY }, entries: [] }, 9);
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.ADD_VOTER, nodeId: 'd', context: EMPTY }).ok, true);
  c.settle();
  c.tick(5);
  leader.propose(enc('after'));
  c.settle();
  const d = c.nodes.get('d')!;
  assert.equal(d.status().applied, leader.status().applied);
  assert.deepEqual(d.status().conf.voters, ['a', 'b', 'c', 'd']);
  const snap = c.stores.get('d')!.snapshot;
  assert.ok(snap.meta.index > 30, 'd installed a snapshot');
  assert.equal(new TextDecoder().decode(snap.data), Array.from({ length: 30 }, (_, i) => `v${i}`).join(','));
  assert.deepEqual(c.data('d'), ['after']);
});

test('removing the leader: it steps down and the rest elect a new one', () => {
  const { c, leader } = elected();
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.REMOVE_NODE, nodeId: leader.id, context: EMPTY }).ok, true);
  c.settle();
  c.tick(60);
  const next = c.leader()!;
  assert.notEqual(next.id, leader.id);
  assert.deepEqual(next.status().conf.voters.includes(leader.id), false);
  assert.equal(next.propose(enc('x')).ok, true);
  c.settle();
});

test('only one conf change may be pending at a time', () => {
  const { leader } = elected();
  assert.equal(leader.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: 'x', context: EMPTY }).ok, true);
  const second = leader.proposeConfChange({ type: ConfChangeType.ADD_LEARNER, nodeId: 'y', context: EMPTY });
  assert.deepEqual(second, { ok: false, reason: 'conf-change-pending', leader: leader.id });
});
