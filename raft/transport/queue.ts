// The per-peer outbound queue. Bounded because a peer can be down for minutes while the leader
// keeps producing heartbeats and appends; dropping the oldest is safe because Raft retransmits
// whatever was not acknowledged, and the newest messages carry the freshest term and commit.

export class DropOldestQueue<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity ${capacity} must be a positive integer`);
    this.ring = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Returns how many of the oldest items were dropped to make room. */
  push(item: T): number {
    if (this.count === this.capacity) {
      this.ring[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      return 1;
    }
    this.ring[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return 0;
  }

  /**
   * Removes items from the front, oldest first, while `accept` says yes to the next one. The
   * first item is taken whatever `accept` says, so one oversized item cannot wedge the queue.
   */
  takeWhile(accept: (item: T) => boolean): T[] {
    const out: T[] = [];
    while (this.count > 0) {
      const item = this.ring[this.head] as T;
      if (!accept(item) && out.length > 0) break;
      out.push(item);
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    return out;
  }

  clear(): number {
    const n = this.count;
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    return n;
  }
}
