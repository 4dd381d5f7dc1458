// The leader's view of one follower (or learner): how far its log matches ours and how we are
// currently feeding it (probe one message at a time, replicate with a pipeline, or snapshot).
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe: a MSG_APP is outstanding; nothing more until a response or heartbeat. */
  probeSent = false;
  /** Replicate: last index of each unacknowledged MSG_APP, oldest first. */
  inflights: number[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Snapshot: index of the snapshot being sent and the offset of the next chunk. */
  snapshotIndex = 0;
  snapshotOffset = 0;
  /** match at the previous heartbeat response, to notice a pipeline that lost messages. */
  matchAtLastHeartbeat = 0;

  constructor(next: number, readonly isLearner: boolean) {
    this.next = next;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.inflights = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.inflights = [];
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = index;
    this.snapshotOffset = 0;
    this.inflights = [];
  }

  /** An acknowledgement up to index; returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflights.length > 0 && this.inflights[0]! <= index) this.inflights.shift();
    return updated;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `hint` is where the
   * follower's log may match. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.length >= maxInflight;
      case 'snapshot':
        return true;
    }
  }

  /** Bookkeeping after sending entries up to lastIndex. */
  sentEntries(lastIndex: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflights.push(lastIndex);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
