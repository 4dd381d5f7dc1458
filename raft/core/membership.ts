// Who votes and who only listens. Changes come one at a time through committed
// ENTRY_CONF_CHANGE entries, so any two consecutive configurations share a majority.
import { raftpb } from '../../proto/gen/raft.js';
import { ConfChangeType, EMPTY, EntryType, type ConfChange, type ConfState, type Entry, type PersistedState } from './types.js';

export class Membership {
  readonly voters = new Set<string>();
  readonly learners = new Set<string>();

  constructor(conf: ConfState) {
    for (const v of conf.voters) this.voters.add(v);
    for (const l of conf.learners) this.learners.add(l);
  }

  toConfState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  has(id: string): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  members(): string[] {
    return [...this.voters, ...this.learners];
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** Whether the voters in `yes` form a majority. */
  hasQuorum(yes: (id: string) => boolean): boolean {
    let n = 0;
    for (const v of this.voters) if (yes(v)) n++;
    return n >= this.quorum();
  }

  /** Highest index that a majority of voters have, given each voter's match index. */
  committedIndex(match: (id: string) => number): number {
    const sorted = [...this.voters].map(match).sort((a, b) => b - a);
    return sorted[this.quorum() - 1] ?? 0;
  }

  apply(cc: ConfChange): void {
    switch (cc.type) {
      case ConfChangeType.ADD_VOTER:
        this.learners.delete(cc.nodeId);
        this.voters.add(cc.nodeId);
        break;
      case ConfChangeType.ADD_LEARNER:
        // Demoting a voter to learner is not a single safe step here; only new nodes start as learners.
        if (!this.voters.has(cc.nodeId)) this.learners.add(cc.nodeId);
        break;
      case ConfChangeType.REMOVE_NODE:
        this.voters.delete(cc.nodeId);
        this.learners.delete(cc.nodeId);
        break;
    }
  }
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return raftpb.ConfChange.encode(cc).finish();
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const d = raftpb.ConfChange.decode(data);
  return { type: d.type, nodeId: d.nodeId, context: d.context ?? EMPTY };
}

/**
 * The durable state of a brand-new cluster whose initial voters are `voters`: the same log on
 * every initial member, one committed conf-change entry per voter, so that a node added later
 * learns the whole membership history by replaying the log from index 1.
 */
export function bootstrapState(voters: string[]): PersistedState {
  const entries: Entry[] = voters.map((nodeId, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ENTRY_CONF_CHANGE,
    data: encodeConfChange({ type: ConfChangeType.ADD_VOTER, nodeId, context: EMPTY }),
  }));
  return {
    hardState: { term: 1, vote: '', commit: entries.length },
    snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: EMPTY },
    entries,
  };
}
