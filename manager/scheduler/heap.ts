// The nodes of a scheduling group, least loaded first for the group's service: fewest tasks of
// the service, then fewest tasks overall, then the node's rank (its place in id order). This is
// what lets a placement cost O(log nodes) instead of a look at every node (SwarmKit keeps its
// nodes in a heap ordered the same way).
//
// A node's key is the one it had when it was last sifted. Keys only grow during a pass (tasks
// are added, never removed), and another group placing a task on a node does not tell this
// heap; so a key may be stale, but never above the node's real key. peek() therefore re-reads
// the top's key and sifts it down until the top's key is current: then no other node's real key
// can be smaller, and the top is the true least loaded node.
import type { NodeLoad } from './filters.js';

export class LoadHeap {
  private readonly loads: NodeLoad[] = [];
  private readonly rank: number[] = [];
  private readonly ofService: number[] = [];
  private readonly total: number[] = [];

  /** `members` with their ranks (`ranks[i]` for `members[i]`; distinct). */
  constructor(
    members: readonly NodeLoad[],
    ranks: readonly number[],
    private readonly serviceId: string,
  ) {
    for (let i = 0; i < members.length; i++) {
      const load = members[i]!;
      this.loads.push(load);
      this.rank.push(ranks[i]!);
      this.ofService.push(load.ofService(serviceId));
      this.total.push(load.total);
    }
    for (let i = (this.loads.length >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get size(): number {
    return this.loads.length;
  }

  /** The least loaded node; undefined when the heap is empty. */
  peek(): NodeLoad | undefined {
    while (this.loads.length > 0) {
      const top = this.loads[0]!;
      const s = top.ofService(this.serviceId);
      if (s === this.ofService[0] && top.total === this.total[0]) return top;
      this.ofService[0] = s;
      this.total[0] = top.total;
      this.siftDown(0);
    }
    return undefined;
  }

  /** Removes the node peek() returned (it cannot take the group's tasks any more). */
  pop(): void {
    const last = this.loads.length - 1;
    if (last < 0) return;
    this.move(last, 0);
    this.loads.pop();
    this.rank.pop();
    this.ofService.pop();
    this.total.pop();
    if (last > 0) this.siftDown(0);
  }

  private less(a: number, b: number): boolean {
    const s = this.ofService[a]! - this.ofService[b]!;
    if (s !== 0) return s < 0;
    const t = this.total[a]! - this.total[b]!;
    if (t !== 0) return t < 0;
    return this.rank[a]! < this.rank[b]!;
  }

  private siftDown(i: number): void {
    const n = this.loads.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      if (!this.less(c, i)) return;
      this.swap(i, c);
      i = c;
    }
  }

  private move(from: number, to: number): void {
    this.loads[to] = this.loads[from]!;
    this.rank[to] = this.rank[from]!;
    this.ofService[to] = this.ofService[from]!;
    this.total[to] = this.total[from]!;
  }

  private swap(a: number, b: number): void {
    const load = this.loads[a]!;
    const rank = this.rank[a]!;
    const s = this.ofService[a]!;
    const t = this.total[a]!;
    this.move(b, a);
    this.loads[b] = load;
    this.rank[b] = rank;
    this.ofService[b] = s;
    this.total[b] = t;
  }
}
