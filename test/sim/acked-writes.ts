// Writes a client was told are committed, and the check that none of them was lost: the
// bookkeeping the crash-window tests (raft-early-send, raft-lazy-commit) share.
import assert from 'node:assert/strict';
import type { Cluster } from './cluster.js';
import { encodePut } from './kv.js';
import { sameBytes } from './invariants.js';

interface Proposal {
  node: string;
  index: number;
  term: number;
  data: Uint8Array;
  acknowledged: boolean;
}

export class AckedWrites {
  private readonly proposals: Proposal[] = [];
  private seq = 0;

  constructor(
    private readonly c: Cluster,
    private readonly chance: number,
  ) {
    // A client is told its write committed when the node it proposed to applies it in its term.
    c.applyListeners.push((n, e) => {
      for (const p of this.proposals) {
        if (p.node === n.id && p.index === e.index && p.term === e.term && sameBytes(p.data, e.data)) p.acknowledged = true;
      }
    });
  }

  /** One step of the workload: with probability `chance`, a put through the current leader. */
  readonly proposeSome = (): void => {
    const l = this.c.leader();
    if (!l || !this.c.rng.chance(this.chance)) return;
    const data = encodePut({ key: `k${this.seq % 8}`, value: `v${this.seq}`, id: `w${this.seq}` });
    this.seq++;
    const r = this.c.propose(l, data);
    if (r.ok) this.proposals.push({ node: l.id, index: r.index, term: r.term, data, acknowledged: false });
  };

  /** After the faults: one leader, one last write through it, applied on all `size` nodes within `limit` units. */
  settle(seed: number, size: number, limit: number): void {
    const c = this.c;
    assert.ok(c.runUntil(() => c.leaders().length === 1, limit), `seed ${seed}: no leader after the kills`);
    const last = c.propose(c.leader()!, encodePut({ key: 'last', value: 'last', id: 'last' }));
    assert.ok(last.ok, `seed ${seed}: the settled leader refused a write`);
    assert.ok(
      c.runUntil(() => c.upNodes().length === size && c.upNodes().every((n) => n.applied >= last.index), limit),
      `seed ${seed}: the cluster did not converge after the kills`,
    );
  }

  /** Asserts every acknowledged write is what the cluster applied at its index; returns how many there were. */
  assertNoneLost(seed: number): number {
    let acknowledged = 0;
    for (const p of this.proposals) {
      if (!p.acknowledged) continue;
      acknowledged++;
      const applied = this.c.inv.appliedAt(p.index);
      assert.ok(
        applied !== undefined && applied.term === p.term && sameBytes(applied.data, p.data),
        `seed ${seed}: the write acknowledged at ${p.index}/${p.term} was lost (${applied ? `${applied.term} applied there` : 'nothing applied there'})`,
      );
    }
    return acknowledged;
  }
}
