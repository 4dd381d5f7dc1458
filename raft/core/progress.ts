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
  /**
   * Snapshot: the index of the snapshot being sent, and its transfer as a window of chunks:
   * the next chunk to send, the chunks the follower acknowledged holding (in order, from the
   * first), ticks since the last acknowledgement that moved, and the chunk a rejection last made
   * us go back to (so the rejections of the chunks already in flight behind a lost one do not
   * each restart the window). Chunks between acknowledged and next are in flight: they are sent
   * again only after a rejection or a whole resend timeout without progress.
   */
  snapshotIndex = 0;
  snapshotNextChunk = 0;
  snapshotAckedChunks = 0;
  snapshotIdleTicks = 0;
  snapshotResentFrom = -1;
  /** Chunks of this transfer sent at least once (to count those sent again). */
  snapshotSentChunks = 0;
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
    this.snapshotNextChunk = 0;
    this.snapshotAckedChunks = 0;
    this.snapshotIdleTicks = 0;
    this.snapshotResentFrom = -1;
    this.snapshotSentChunks = 0;
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
