// The simulated network: every message gets its own delivery delay (so messages reorder),
// may be lost or duplicated, and is dropped when its link is cut at send or delivery time.
// Time is the simulator's integer clock; nothing here knows about Raft beyond from/to.
import type { Message } from '../../raft/core/types.js';
import type { Rng } from './rng.js';

export interface NetworkConfig {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicate: number;
  /** Usual delay, uniform in [minDelay, maxDelay] time units. */
  minDelay: number;
  maxDelay: number;
  /** Probability that a message is held much longer, up to longDelay units (reordering). */
  longDelayChance: number;
  longDelay: number;
}

export const RELIABLE: NetworkConfig = {
  loss: 0,
  duplicate: 0,
  minDelay: 1,
  maxDelay: 3,
  longDelayChance: 0,
  longDelay: 0,
};

interface InFlight {
  due: number;
  seq: number;
  m: Message;
  /** The receiver's crash count at send time: a crash drops what was in flight to it. */
  epoch: number;
  /** The sender's outbox generation at send time: a crash may also drop what it had sent. */
  outbox: number;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  cut: number;
  droppedAtCrash: number;
}

export class Network {
  config: NetworkConfig;
  private readonly heap: InFlight[] = [];
  private seq = 0;
  /** Directed links that are cut, as "from>to". */
  private readonly blocked = new Set<string>();
  private readonly epochs = new Map<string, number>();
  private readonly outboxes = new Map<string, number>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, cut: 0, droppedAtCrash: 0 };

  constructor(
    private readonly rng: Rng,
    config: NetworkConfig,
  ) {
    this.config = { ...config };
  }

  // ---- links ----------------------------------------------------------------------------

  isBlocked(from: string, to: string): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  cut(from: string, to: string): void {
    if (from !== to) this.blocked.add(`${from}>${to}`);
  }

  /** Cut every link between the groups, both ways. */
  split(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  /** Cut `node` off from `others` in both directions. */
  isolate(node: string, others: readonly string[]): void {
    this.split([node], others.filter((o) => o !== node));
  }

  healAll(): void {
    this.blocked.clear();
  }

  /** Cut links as text, for traces. */
  describeCuts(): string {
    return [...this.blocked].sort().join(' ');
  }

  get hasCuts(): boolean {
    return this.blocked.size > 0;
  }

  // ---- crashes ----------------------------------------------------------------------------

  /**
   * A node crashed: whatever was in flight to it is gone; with `outgoing`, so is what it had
   * sent that was not delivered yet (still in its socket buffers).
   */
  crashed(node: string, outgoing = false): void {
    this.epochs.set(node, (this.epochs.get(node) ?? 0) + 1);
    if (outgoing) this.outboxes.set(node, (this.outboxes.get(node) ?? 0) + 1);
  }

  // ---- traffic ----------------------------------------------------------------------------

  /** Targeted drops for focused scenarios: a message for which any filter returns true is lost. */
  readonly filters: ((m: Message) => boolean)[] = [];

  send(m: Message, now: number): void {
    this.stats.sent++;
    if (this.filters.length > 0 && this.filters.some((f) => f(m))) {
      this.stats.lost++;
      return;
    }
    if (this.isBlocked(m.from, m.to)) {
      this.stats.cut++;
      return;
    }
    if (this.rng.chance(this.config.loss)) {
      this.stats.lost++;
      return;
    }
    this.enqueue(m, now);
    if (this.rng.chance(this.config.duplicate)) {
      this.stats.duplicated++;
      this.enqueue(m, now);
    }
  }

  private enqueue(m: Message, now: number): void {
    const c = this.config;
    const delay = this.rng.chance(c.longDelayChance)
      ? this.rng.range(c.maxDelay, Math.max(c.maxDelay, c.longDelay))
      : this.rng.range(c.minDelay, c.maxDelay);
    this.push({ due: now + delay, seq: this.seq++, m, epoch: this.epochs.get(m.to) ?? 0, outbox: this.outboxes.get(m.from) ?? 0 });
  }

  /** Messages due at or before `now`, in delivery order; cut links and crashed receivers drop theirs. */
  takeDue(now: number): Message[] {
    const out: Message[] = [];
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const f = this.pop();
      if (f.epoch !== (this.epochs.get(f.m.to) ?? 0) || f.outbox !== (this.outboxes.get(f.m.from) ?? 0)) {
        this.stats.droppedAtCrash++;
        continue;
      }
      if (this.isBlocked(f.m.from, f.m.to)) {
        this.stats.cut++;
        continue;
      }
      this.stats.delivered++;
      out.push(f.m);
    }
    return out;
  }

  get inFlight(): number {
    return this.heap.length;
  }

  // ---- binary heap by (due, seq) ------------------------------------------------------------

  private less(i: number, j: number): boolean {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.heap[i]!;
    this.heap[i] = this.heap[j]!;
    this.heap[j] = t;
  }

  private push(f: InFlight): void {
    this.heap.push(f);
    let i = this.heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private pop(): InFlight {
    const top = this.heap[0]!;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.heap.length && this.less(l, m)) m = l;
        if (r < this.heap.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
