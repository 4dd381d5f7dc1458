// Raft's safety properties, checked incrementally after every step of the simulation. Each
// check keeps a global record of what any node has ever done (durable entries, applies,
// leaders, commits) so a step costs only what changed in it.
//
// - election safety: at most one leader per term, ever;
// - log matching: an (index, term) pair names one entry, and that entry's predecessor has one
//   term; so two durable logs (at any times) that share an (index, term) share the prefix;
// - leader completeness: the leader of term T holds every entry committed in a term < T
//   (commit points are observed on leaders as they advance);
// - state-machine safety: no two nodes apply different entries at one index, and a node's
//   state after applying index i (or installing a snapshot at i) equals any other's at i;
// - a leader commits only what a quorum of voters holds on disk (its own copy counts only once
//   durable: it sends its appends before or while writing them);
// - durable state never goes back: term, vote within a term, commit;
// - a node's commit index never decreases except across a crash, its applies are contiguous,
//   it applies only committed entries, and it acts on the configuration the log says;
// - ReadIndex: a read point is at least every index applied anywhere when the read was asked.
import { raftpb } from '../../proto/gen/raft.js';
import { ConfChangeType, EntryType, type ConfState, type Entry, type HardState, type Snapshot } from '../../raft/core/types.js';
import type { Status } from '../../raft/core/raw-node.js';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

export function violation(invariant: string, detail: string): never {
  throw new InvariantViolation(invariant, detail);
}

/** What the checker needs to see of a node. */
export interface NodeView {
  readonly id: string;
  /** Term of the entry at `index` in the node's durable log (snapshot point included), if present. */
  durableTermAt(index: number): number | undefined;
  durableEntryAt(index: number): Entry | undefined;
  readonly durableSnapshot: Snapshot;
  durableLastIndex(): number;
}

interface EntryRecord {
  type: EntryType;
  data: Uint8Array;
  /** Term of the entry before it (-1: unknown, e.g. the first entry after a snapshot seen elsewhere). */
  prevTerm: number;
  firstSeenOn: string;
}

interface AppliedRecord {
  term: number;
  type: EntryType;
  data: Uint8Array;
  /** State-machine hash chain after applying it. */
  chain: number;
  node: string;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameConf(a: ConfState, b: ConfState): boolean {
  const norm = (x: string[]) => [...x].sort().join(',');
  return norm(a.voters) === norm(b.voters) && norm(a.learners) === norm(b.learners);
}

export function confString(c: ConfState): string {
  return `voters=[${[...c.voters].sort().join(',')}] learners=[${[...c.learners].sort().join(',')}]`;
}

export function decodeConfChangeData(data: Uint8Array): { type: ConfChangeType; nodeId: string } {
  const cc = raftpb.ConfChange.decode(data);
  return { type: cc.type, nodeId: cc.nodeId };
}

function applyConfChange(conf: ConfState, data: Uint8Array): ConfState {
  const cc = decodeConfChangeData(data);
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  switch (cc.type) {
    case ConfChangeType.ADD_VOTER:
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case ConfChangeType.ADD_LEARNER:
      if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
      break;
    case ConfChangeType.REMOVE_NODE:
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
  }
  return { voters: [...voters].sort(), learners: [...learners].sort() };
}

export class Invariants {
  readonly leaderOfTerm = new Map<number, string>();
  private readonly entries = new Map<string, EntryRecord>();
  /** applied[i]: the entry first applied at index i anywhere (state-machine safety). */
  private readonly applied: (AppliedRecord | undefined)[] = [];
  maxApplied = 0;
  /** committedTerm[i]: term of the entry at i when a leader first counted it committed. */
  private readonly committedTerm: number[] = [];
  private committedUpTo = 0;
  /** Highest commit index any leader of each term reached. */
  private readonly maxCommitByTerm = new Map<number, number>();
  /** Membership after each applied conf change, in index order (index 0: empty). */
  private readonly confTimeline: { index: number; conf: ConfState }[] = [{ index: 0, conf: { voters: [], learners: [] } }];
  /** Per node: last term seen as leader (to spot becoming leader). */
  private readonly leaderTermSeen = new Map<string, number>();

  // ---- election safety + leader completeness + commit tracking ---------------------------

  /**
   * After every step: the core's own view of a node. `peers` finds any node's durable view by
   * id (to see which voters hold what a leader commits).
   */
  observeStatus(node: NodeView, s: Status, peers: (id: string) => NodeView | undefined): void {
    if (s.role !== 'leader') return;
    const prev = this.leaderOfTerm.get(s.term);
    if (prev !== undefined && prev !== node.id) {
      violation('election safety', `${node.id} and ${prev} are both leaders of term ${s.term}`);
    }
    if (prev === undefined) this.leaderOfTerm.set(s.term, node.id);
    if (s.leader !== node.id) violation('leader status', `${node.id} is leader of term ${s.term} but names ${s.leader || '(none)'} as leader`);
    if (this.leaderTermSeen.get(node.id) !== s.term) {
      this.leaderTermSeen.set(node.id, s.term);
      this.checkLeaderCompleteness(node, s.term);
    }
    this.checkCommitDurable(node, s, peers);
    this.observeLeaderCommit(node, s, peers);
  }

  /** Commit and applied index of each leader (by `id/term`) when last checked against the voters' disks. */
  private readonly commitChecked = new Map<string, { commit: number; applied: number }>();

  /**
   * A leader's commit index may pass its own durable log (a quorum of followers acknowledged,
   * its own write still under way), but never what a quorum of voters holds durably: a crash
   * of the leader before its write completes must not lose a committed entry.
   */
  private checkCommitDurable(node: NodeView, s: Status, peers: (id: string) => NodeView | undefined): void {
    const key = `${node.id}/${s.term}`;
    const checked = this.commitChecked.get(key);
    this.commitChecked.set(key, { commit: s.commit, applied: s.applied });
    // A commit index the node brought into this term was checked by the leader that reached it.
    if (checked === undefined || s.commit <= checked.commit) return;
    const holds = (id: string): boolean => {
      const v = peers(id);
      // A snapshot holds only committed entries, so one at or past the index holds it too.
      return v !== undefined && (v.durableSnapshot.meta.index >= s.commit || v.durableTermAt(s.commit) === s.term);
    };
    // The commit was counted under the configuration of that moment: the one the core had
    // applied then, which is the current one or one the conf changes applied since the last
    // check replaced.
    const confs = [s.conf, this.confAt(checked.applied), ...this.confTimeline.filter((c) => c.index > checked.applied && c.index <= s.applied).map((c) => c.conf)];
    const quorate = confs.some((c) => c.voters.filter(holds).length >= Math.floor(c.voters.length / 2) + 1);
    if (!quorate) {
      const holders = s.conf.voters.filter(holds);
      violation('commit durable on a quorum', `leader ${node.id} of term ${s.term} committed ${s.commit}, but only ${holders.length} of voters ${s.conf.voters.join(',')} hold entry ${s.commit}/${s.term} on disk (${holders.join(',') || 'none'})`);
    }
  }

  /** The leader of `term` must hold every entry committed in an earlier term. */
  private checkLeaderCompleteness(node: NodeView, term: number): void {
    let required = 0;
    for (const [t, c] of this.maxCommitByTerm) if (t < term && c > required) required = c;
    if (required === 0) return;
    const last = node.durableLastIndex();
    if (last < required) {
      violation('leader completeness', `${node.id} became leader of term ${term} with last index ${last}, but index ${required} was committed in an earlier term`);
    }
    const snapIndex = node.durableSnapshot.meta.index;
    const from = Math.max(1, snapIndex);
    for (let i = from; i <= required; i++) {
      const want = this.committedTerm[i];
      if (want === undefined) continue;
      const have = node.durableTermAt(i);
      if (have !== want) {
        violation('leader completeness', `${node.id} became leader of term ${term} with entry ${i} of term ${have ?? '(none)'}, but entry ${i} of term ${want} was committed in an earlier term`);
      }
    }
  }

  private observeLeaderCommit(node: NodeView, s: Status, peers: (id: string) => NodeView | undefined): void {
    const { term, commit } = s;
    const prev = this.maxCommitByTerm.get(term) ?? 0;
    if (commit > prev) this.maxCommitByTerm.set(term, commit);
    if (commit <= this.committedUpTo) return;
    for (let i = this.committedUpTo + 1; i <= commit; i++) {
      // The leader's own write of its newest entries may still be under way: those are entries
      // it appended in its own term (its log before it was elected was on its disk, and a leader
      // never overwrites). Asking the voters instead could name a stale entry of an earlier term
      // that one of them still holds at that index. Entries under the leader's snapshot: any
      // voter that still has them says their term.
      let t = node.durableTermAt(i);
      if (t === undefined && i > node.durableSnapshot.meta.index) t = s.term;
      for (const id of s.conf.voters) t ??= peers(id)?.durableTermAt(i);
      if (t !== undefined) this.committedTerm[i] = t;
    }
    this.committedUpTo = commit;
  }

  // ---- durable state ---------------------------------------------------------------------

  /** After a node's Ready (or compaction) was written: the durable log and hard state. */
  checkDurable(node: NodeView, before: HardState, after: HardState, newEntries: readonly Entry[]): void {
    if (after.term < before.term) violation('durable term', `${node.id} term went from ${before.term} to ${after.term}`);
    if (after.term === before.term && before.vote !== '' && after.vote !== before.vote) {
      violation('durable vote', `${node.id} changed its vote in term ${after.term} from ${before.vote} to ${after.vote || '(none)'}`);
    }
    if (after.commit < before.commit) violation('durable commit', `${node.id} durable commit went from ${before.commit} to ${after.commit}`);
    const last = node.durableLastIndex();
    if (after.commit > last) violation('durable commit', `${node.id} durable commit ${after.commit} is past its durable last index ${last}`);
    for (const e of newEntries) {
      if (e.term > after.term) violation('log term', `${node.id} stored entry ${e.index} of term ${e.term} while in term ${after.term}`);
      this.registerEntry(node, e);
    }
  }

  /** Log matching: each (index, term) pair names one entry with one predecessor term. */
  private registerEntry(node: NodeView, e: Entry): void {
    const key = `${e.index}:${e.term}`;
    const pt = node.durableTermAt(e.index - 1);
    const prevTerm = pt === undefined ? -1 : pt;
    const rec = this.entries.get(key);
    if (!rec) {
      this.entries.set(key, { type: e.type, data: e.data, prevTerm, firstSeenOn: node.id });
      return;
    }
    if (rec.type !== e.type || !sameBytes(rec.data, e.data)) {
      violation('log matching', `entry ${e.index} of term ${e.term} on ${node.id} differs from the one on ${rec.firstSeenOn}`);
    }
    if (rec.prevTerm === -1) rec.prevTerm = prevTerm;
    else if (prevTerm !== -1 && prevTerm !== rec.prevTerm) {
      violation('log matching', `entry ${e.index} of term ${e.term} follows term ${prevTerm} on ${node.id} but term ${rec.prevTerm} on ${rec.firstSeenOn}`);
    }
  }

  /** A durable snapshot (installed or compacted to) must describe committed state at its index. */
  checkSnapshot(node: NodeView, snap: Snapshot): void {
    const i = snap.meta.index;
    const rec = this.applied[i];
    if (i > 0 && rec === undefined && i > this.maxApplied) {
      violation('snapshot', `${node.id} has a snapshot at ${i} but nothing was applied that far (max ${this.maxApplied})`);
    }
    if (rec && rec.term !== snap.meta.term) {
      violation('snapshot', `${node.id} snapshot at ${i} has term ${snap.meta.term}, the applied entry there has term ${rec.term}`);
    }
    const want = this.confAt(i);
    if (!sameConf(want, snap.meta.conf)) {
      violation('snapshot conf', `${node.id} snapshot at ${i} has ${confString(snap.meta.conf)}, the log says ${confString(want)}`);
    }
  }

  // ---- state machine ---------------------------------------------------------------------

  /** A node applied `e` and its state machine's hash chain is now `chain`. */
  observeApply(node: string, e: Entry, chain: number, commit: number): void {
    if (e.index > commit) {
      violation('apply uncommitted', `${node} applied entry ${e.index} but its commit index is ${commit}`);
    }
    const rec = this.applied[e.index];
    if (!rec) {
      if (e.index !== this.maxApplied + 1) {
        violation('state machine safety', `${node} is the first to apply ${e.index}, but the highest applied anywhere is ${this.maxApplied}`);
      }
      this.applied[e.index] = { term: e.term, type: e.type, data: e.data, chain, node };
      this.maxApplied = e.index;
      if (e.type === EntryType.ENTRY_CONF_CHANGE) {
        this.confTimeline.push({ index: e.index, conf: applyConfChange(this.confAt(e.index - 1), e.data) });
      }
      return;
    }
    if (rec.term !== e.term || rec.type !== e.type || !sameBytes(rec.data, e.data)) {
      violation('state machine safety', `${node} applied entry ${e.index}/${e.term} but ${rec.node} applied ${e.index}/${rec.term} with other data`);
    }
    if (rec.chain !== chain) {
      violation('state machine safety', `${node}'s state after applying ${e.index} differs from ${rec.node}'s`);
    }
  }

  /** A node installed a snapshot in its state machine. */
  observeSnapshotInstall(node: string, snap: Snapshot, chain: number): void {
    const rec = this.applied[snap.meta.index];
    if (snap.meta.index > 0 && !rec) violation('snapshot', `${node} installed a snapshot at ${snap.meta.index} that no node has applied`);
    if (rec && rec.chain !== chain) {
      violation('state machine safety', `${node}'s state from the snapshot at ${snap.meta.index} differs from ${rec.node}'s state there`);
    }
  }

  appliedAt(index: number): { term: number; data: Uint8Array; type: EntryType } | undefined {
    return this.applied[index];
  }

  confAt(index: number): ConfState {
    let c = this.confTimeline[0]!.conf;
    for (const r of this.confTimeline) {
      if (r.index > index) break;
      c = r.conf;
    }
    return c;
  }

  /** The configuration as of the highest index applied anywhere. */
  latestConf(): ConfState {
    return this.confTimeline[this.confTimeline.length - 1]!.conf;
  }

  /** The core must act on the configuration its applied log describes. */
  checkConf(node: string, applied: number, conf: ConfState): void {
    const want = this.confAt(applied);
    if (!sameConf(want, conf)) {
      violation('membership', `${node} at applied ${applied} has ${confString(conf)}, the log says ${confString(want)}`);
    }
  }

  /** Number of distinct (index, term) entries ever stored durably. */
  get entryCount(): number {
    return this.entries.size;
  }

  get termCount(): number {
    return this.leaderOfTerm.size;
  }
}
