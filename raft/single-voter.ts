// Offline surgery on a stopped node's log, for recovering from the loss of a quorum (etcd's and
// SwarmKit's "force new cluster") and for starting a cluster from a backup. Both end the same
// way: a log whose only content is a snapshot of the state machine whose configuration names
// this node as the one voter, in a term above any the old log used, so the node elects itself
// and never listens to a member of the old configuration again.
import { Membership, decodeConfChange } from './core/membership.js';
import { EntryType } from './core/types.js';
import type { StateMachine } from './node.js';
import { RaftStorage } from './storage/index.js';

export interface LocalLog {
  /** The last index in the log (every entry was applied to the state machine given). */
  lastIndex: number;
  /** The highest commit index this node knew of; entries past it were applied too (see readLocalLog). */
  commitIndex: number;
  term: number;
  /** The voters of the configuration the whole log ends with. */
  voters: string[];
  /** Raft addresses the log's membership changes carried, by node id. */
  addresses: Record<string, string>;
}

/**
 * Restores `sm` from the log's snapshot and applies every entry after it, committed or not as
 * far as this node knows: an entry this node holds may have been committed by a majority it was
 * part of without it hearing so, and an acknowledged write must not be dropped. The storage is
 * closed again, unchanged.
 */
export async function readLocalLog(dir: string, sm: StateMachine): Promise<LocalLog> {
  const storage = await RaftStorage.open(dir);
  try {
    const state = storage.load();
    if (state.snapshot.meta.index > 0) sm.restore(state.snapshot.data);
    const membership = new Membership(state.snapshot.meta.conf);
    const addresses: Record<string, string> = {};
    for (const e of state.entries) {
      if (e.type === EntryType.ENTRY_CONF_CHANGE) {
        const cc = decodeConfChange(e.data);
        membership.apply(cc);
        const addr = new TextDecoder().decode(cc.context);
        if (addr) addresses[cc.nodeId] = addr;
      } else if (e.data.length > 0) {
        sm.apply(e);
      }
    }
    const lastIndex = state.entries.at(-1)?.index ?? state.snapshot.meta.index;
    const lastTerm = state.entries.at(-1)?.term ?? state.snapshot.meta.term;
    return {
      lastIndex,
      commitIndex: state.hardState.commit,
      term: Math.max(state.hardState.term, lastTerm),
      voters: [...membership.voters].sort(),
      addresses,
    };
  } finally {
    await storage.close();
  }
}

export interface SingleVoterState {
  /** The node that will be the only voter. */
  id: string;
  /** Index of the snapshot: above every index the old log used. */
  index: number;
  /** Term of the snapshot and of the node from now on: above every term the old log used. */
  term: number;
  /** The state machine's snapshot at `index`. */
  data: Uint8Array;
}

/**
 * Replaces the log in `dir` (existing or not) with `state` as its snapshot, no entries, and a
 * hard state that has voted for nobody in the new term and knows the snapshot committed. One
 * durable batch after the snapshot file: a crash leaves either the old log or the new one.
 */
export async function writeSingleVoterLog(dir: string, state: SingleVoterState): Promise<void> {
  const storage = await RaftStorage.open(dir);
  try {
    await storage.save({
      hardState: { term: state.term, vote: '', commit: state.index },
      entries: [],
      snapshot: { meta: { index: state.index, term: state.term, conf: { voters: [state.id], learners: [] } }, data: state.data },
    });
  } finally {
    await storage.close();
  }
}
