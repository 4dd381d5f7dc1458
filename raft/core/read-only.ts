// Linearizable reads without a log write (Raft thesis 6.4): the leader notes its commit index,
// confirms with a heartbeat round that a majority still follows it, then releases the read.
export interface PendingRead {
  key: string;
  context: Uint8Array;
  index: number;
  /** Node that asked; the leader itself or a follower that gets a MSG_READ_INDEX_RESP. */
  from: string;
  acks: Set<string>;
}

export class ReadOnlyQueue {
  private readonly queue: PendingRead[] = [];
  private readonly byKey = new Map<string, PendingRead>();

  add(context: Uint8Array, index: number, from: string, self: string): void {
    const key = contextKey(context);
    if (this.byKey.has(key)) return;
    const read: PendingRead = { key, context, index, from, acks: new Set([self]) };
    this.queue.push(read);
    this.byKey.set(key, read);
  }

  ack(context: Uint8Array, from: string): Set<string> | undefined {
    const read = this.byKey.get(contextKey(context));
    if (!read) return undefined;
    read.acks.add(from);
    return read.acks;
  }

  /** Remove and return every request up to and including the one with this context. */
  releaseThrough(context: Uint8Array): PendingRead[] {
    const key = contextKey(context);
    const at = this.queue.findIndex((r) => r.key === key);
    if (at < 0) return [];
    const released = this.queue.splice(0, at + 1);
    for (const r of released) this.byKey.delete(r.key);
    return released;
  }

  /** Context of the newest pending request (carried by heartbeats), if any. */
  lastContext(): Uint8Array | undefined {
    return this.queue[this.queue.length - 1]?.context;
  }

  clear(): void {
    this.queue.length = 0;
    this.byKey.clear();
  }
}

function contextKey(context: Uint8Array): string {
  return Buffer.from(context).toString('base64');
}
