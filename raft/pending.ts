// The proposals a node made while leading, waiting to be applied. Pure bookkeeping (no clock,
// no I/O) so that what happens to them on a leadership change can be tested step by step.
import type { Entry, SoftState } from './core/types.js';
import { RaftError } from './errors.js';

export interface PendingWaiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  /** Stops the waiter's own deadline. */
  cancel(): void;
}

export class PendingProposals<T> {
  private readonly byIndex = new Map<number, PendingWaiter<T> & { term: number }>();

  get size(): number {
    return this.byIndex.size;
  }

  add(index: number, term: number, waiter: PendingWaiter<T>): void {
    this.byIndex.set(index, { ...waiter, term });
  }

  /** Forgets a proposal whose caller gave up (its deadline passed). */
  remove(index: number): void {
    this.byIndex.delete(index);
  }

  /** An entry was applied here: its proposer learns the result, or that another leader's entry took its place. */
  applied(entry: Entry, result: T): void {
    const w = this.byIndex.get(entry.index);
    if (!w) return;
    this.byIndex.delete(entry.index);
    w.cancel();
    if (w.term === entry.term) w.resolve(result);
    else w.reject(new RaftError('PROPOSAL_DROPPED', `proposal at index ${entry.index} was overwritten by a new leader`));
  }

  /**
   * This node no longer leads in the term it proposed in (it stepped down, lost a check-quorum
   * round or saw a newer term): nothing more is known about its proposals until some leader
   * commits or overwrites them, which can take a whole election. Their callers are told at once,
   * with a retryable error, instead of waiting out their deadlines. A proposal failed this way
   * may still commit under the next leader: a retry must be one that cannot apply twice (an
   * object version, or the batch's request id that the store deduplicates).
   */
  leadershipChanged(state: SoftState, term: number): void {
    for (const [index, w] of this.byIndex) {
      if (state.role === 'leader' && w.term === term) continue;
      this.byIndex.delete(index);
      w.cancel();
      w.reject(new RaftError('LEADERSHIP_LOST', `leadership changed while the proposal at index ${index} was in flight; it may still be applied`, state.leader));
    }
  }

  /** Fails every proposal (the node stops). */
  failAll(err: Error): void {
    for (const w of this.byIndex.values()) {
      w.cancel();
      w.reject(err);
    }
    this.byIndex.clear();
  }
}
