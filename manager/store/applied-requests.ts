// The request ids of the last batches the store applied, so that a batch proposed again (a
// write retried after its first leader was lost, which may have committed it all the same) is
// applied once. Part of the replicated state: filled only by apply(), in log order, evicted
// oldest first, and carried in snapshots, so every manager decides "duplicate" alike.

/** How many recent request ids are remembered: far more than can be in flight at a leader change. */
export const APPLIED_REQUESTS_KEPT = 10_000;

export class AppliedRequests {
  /** Request id → the Raft index that applied it; Map order is apply order. */
  private readonly byId = new Map<string, number>();

  constructor(private readonly kept = APPLIED_REQUESTS_KEPT) {}

  /** The index that applied `requestId`, if it is still remembered. */
  indexOf(requestId: string): number | undefined {
    return this.byId.get(requestId);
  }

  record(requestId: string, index: number): void {
    if (requestId === '') return;
    this.byId.set(requestId, index);
    if (this.byId.size > this.kept) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
  }

  /** Oldest first, for a snapshot. */
  list(): { requestId: string; index: number }[] {
    return [...this.byId].map(([requestId, index]) => ({ requestId, index }));
  }

  /** Replaces the contents with a snapshot's (oldest first). */
  reset(entries: readonly { requestId?: string | null; index?: number | null }[]): void {
    this.byId.clear();
    for (const e of entries) if (e.requestId) this.record(e.requestId, Number(e.index ?? 0));
  }
}
