// Which part of a Ready goes to disk, and whether it must wait for the disk: the one rule the
// driver (raft/node.ts) and the simulator (test/sim) both follow, so that the simulator checks
// the ordering the real node uses.
import { EntryType, type HardState, type Ready } from './types.js';

export interface PersistPlan {
  /** The hard state to write with the entries, when it differs from the one on disk. */
  hardState?: HardState;
}

/**
 * Raft needs on disk, before a Ready's `messages` go out: its entries, its snapshot, and a new
 * term or vote. A commit index alone need not be durable: a restarted node learns it again from
 * the leader (a lone voter recommits its log by appending an entry of its new term). So a Ready
 * that only moves the commit index writes nothing (undefined): the newest commit index rides
 * along with the next write that happens anyway. Every write then is one that must be synced.
 *
 * Why it matters: each committed batch moved the commit index on every member in a Ready of its
 * own (the followers learn it from the leader's next append, the leader when the acks arrive),
 * so every member did two LevelDB writes per batch instead of one.
 *
 * `latest` is the newest hard state the core has handed out (this Ready's, else an earlier
 * one's), `durable` the one on disk. The commit index written is never past the entries written
 * with it or before it: the core never commits an entry it has not handed out for persisting,
 * and each Ready is persisted before the next is taken.
 *
 * One exception: a Ready that commits a configuration change writes its commit index. A node
 * that applied a configuration must still know it committed after a crash, because the members
 * it removed may be gone: a survivor that forgot it (two voters, one removed and shut down once
 * the other applied its removal, the other crashed before any later write) came back counting
 * the removed node as a voter and could never win an election again (the simulator's seed
 * 2309). Configuration changes are rare, so this costs one write each.
 */
export function persistPlan(rd: Ready, latest: HardState, durable: HardState): PersistPlan | undefined {
  const termOrVoteChanged = latest.term !== durable.term || latest.vote !== durable.vote;
  const commitsConf = latest.commit !== durable.commit && rd.committedEntries.some((e) => e.type === EntryType.ENTRY_CONF_CHANGE);
  if (rd.entries.length === 0 && !rd.snapshot && !termOrVoteChanged && !commitsConf) return undefined;
  return termOrVoteChanged || latest.commit !== durable.commit ? { hardState: latest } : {};
}
