// The in-memory Raft log of one node: the latest snapshot, the entries after the compaction
// point, and the commit/apply/persist cursors. Persisting is the driver's job: `stabled` says
// how far the driver has confirmed, everything after it goes into the next Ready.
import type { Entry, Snapshot } from './types.js';

export class RaftLog {
  snapshot: Snapshot;
  /** A snapshot received from the leader, not yet handed to the driver. */
  pendingSnapshot: Snapshot | undefined;
  /** entries[0] has index prevIndex + 1; prevIndex <= snapshot.meta.index. */
  private entries: Entry[];
  private prevIndex: number;
  private prevTerm: number;
  committed: number;
  applied: number;
  /** Last index the driver has made durable. */
  stabled: number;

  constructor(snapshot: Snapshot, entries: Entry[], committed: number) {
    this.snapshot = snapshot;
    this.prevIndex = snapshot.meta.index;
    this.prevTerm = snapshot.meta.term;
    this.entries = entries.filter((e) => e.index > snapshot.meta.index);
    this.applied = snapshot.meta.index;
    this.committed = Math.max(committed, snapshot.meta.index);
    this.stabled = this.lastIndex();
  }

  firstIndex(): number {
    return this.prevIndex + 1;
  }

  lastIndex(): number {
    return this.prevIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at index, or undefined when it was compacted away or does not exist. */
  term(index: number): number | undefined {
    if (index === this.prevIndex) return this.prevTerm;
    if (index < this.prevIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.prevIndex - 1]?.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Entries in [lo, hi]; lo must be >= firstIndex. */
  slice(lo: number, hi: number): Entry[] {
    if (hi < lo) return [];
    return this.entries.slice(lo - this.prevIndex - 1, hi - this.prevIndex);
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.committed) {
      throw new Error(`raft: refusing to overwrite committed entry ${first} (committed ${this.committed})`);
    }
    if (first <= this.lastIndex()) {
      this.entries.length = first - this.prevIndex - 1;
      this.stabled = Math.min(this.stabled, first - 1);
    } else if (first !== this.lastIndex() + 1) {
      throw new Error(`raft: gap appending entry ${first} after ${this.lastIndex()}`);
    }
    for (const e of entries) this.entries.push(e);
  }

  /**
   * Follower side of MSG_APP: if the entry at prevIndex has prevTerm, append what is new
   * (truncating a conflicting suffix) and return the index of the last entry the leader sent.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = entries.findIndex((e) => !this.matchTerm(e.index, e.term));
    if (conflict >= 0) this.append(entries.slice(conflict));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  commitTo(index: number): void {
    if (index > this.committed) {
      if (index > this.lastIndex()) throw new Error(`raft: commit ${index} beyond last index ${this.lastIndex()}`);
      this.committed = index;
    }
  }

  /** Largest index <= index whose term is <= term (the fast-backtracking probe point). */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.prevIndex; i--) {
      if ((this.term(i) ?? 0) <= term) return i;
    }
    return i;
  }

  /** Committed entries not yet handed out for applying. */
  nextCommitted(): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed);
  }

  hasNextCommitted(): boolean {
    return this.committed > Math.max(this.applied, this.prevIndex);
  }

  hasUnstable(): boolean {
    return this.lastIndex() > this.stabled;
  }

  unstableEntries(): Entry[] {
    return this.slice(this.stabled + 1, this.lastIndex());
  }

  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stabled) this.stabled = index;
  }

  appliedTo(index: number): void {
    if (index > this.applied) this.applied = index;
  }

  /** Replace the whole log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
    this.entries = [];
    this.prevIndex = snapshot.meta.index;
    this.prevTerm = snapshot.meta.term;
    this.committed = snapshot.meta.index;
    this.stabled = snapshot.meta.index;
  }

  /**
   * The state machine made a snapshot at `snapshot.meta.index`; drop entries up to it but keep
   * the last `keepEntries` so a slightly lagging follower can still catch up from the log.
   */
  compact(snapshot: Snapshot, keepEntries: number): void {
    this.snapshot = snapshot;
    const cut = Math.max(this.prevIndex, snapshot.meta.index - keepEntries);
    const cutTerm = this.term(cut);
    if (cutTerm === undefined) return;
    this.entries = this.entries.slice(cut - this.prevIndex);
    this.prevIndex = cut;
    this.prevTerm = cutTerm;
  }

}
