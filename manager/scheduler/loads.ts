// What every node holds, kept as the store changes. A scheduling pass needs each node's load
// (reservations, host ports, tasks per service); counting it from every task of the cluster
// per pass cost the leader 13 s of CPU at 100,000 tasks (docs/scale.md), while a task's change
// moves one node's counts by one. The scheduler loop applies each store change here (the
// change carries the task before and after) and rebuilds from the store only when it starts,
// after a snapshot restore or after a failed write: what SwarmKit's nodeSet does.
import type { StoreChange } from '../store/index.js';
import type { TaskView } from '../reconcile/tasks.js';
import type { NodeView } from './constraints.js';
import { NodeLoad } from './filters.js';

function byNodeId(a: NodeLoad, b: NodeLoad): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class NodeLoads {
  /** The nodes of the store in id order (the scheduler's tie-break). */
  private sorted: NodeLoad[] = [];
  /**
   * Every node id a task names, with or without a node object: a task may name a node that is
   * gone (removed) or not yet seen, and its counts must be there when the node is.
   */
  private readonly byId = new Map<string, NodeLoad>();
  private readonly present = new Set<string>();

  static from(nodes: readonly NodeView[], tasks: readonly TaskView[]): NodeLoads {
    const loads = new NodeLoads();
    for (const n of nodes) {
      const id = n.meta?.id ?? '';
      loads.byId.set(id, new NodeLoad(n));
      loads.present.add(id);
    }
    loads.sorted = [...loads.byId.values()].sort(byNodeId);
    for (const t of tasks) if (t.nodeId) loads.holder(t.nodeId).add(t);
    return loads;
  }

  /** The store's nodes, in id order. */
  nodes(): readonly NodeLoad[] {
    return this.sorted;
  }

  get(nodeId: string): NodeLoad | undefined {
    return this.present.has(nodeId) ? this.byId.get(nodeId) : undefined;
  }

  /** Follows one store change (node or task; other kinds are ignored). */
  apply(change: StoreChange): void {
    if (change.kind === 'task') {
      const old = change.action === 'update' ? change.old : undefined;
      if (old?.nodeId) this.release(old.nodeId, old);
      if (change.action === 'delete') {
        if (change.object.nodeId) this.release(change.object.nodeId, change.object);
      } else if (change.object.nodeId) {
        this.holder(change.object.nodeId).add(change.object);
      }
      return;
    }
    if (change.kind !== 'node') return;
    const node = change.object;
    const id = node.meta.id;
    if (change.action === 'delete') {
      if (!this.present.delete(id)) return;
      this.sorted = this.sorted.filter((l) => l.id !== id);
      if (this.byId.get(id)?.empty) this.byId.delete(id);
      return;
    }
    const load = this.byId.get(id);
    if (load !== undefined) load.describe(node);
    if (this.present.has(id)) return;
    this.present.add(id);
    const added = load ?? new NodeLoad(node);
    this.byId.set(id, added);
    // A node joins: one insertion in id order (joins are rare beside task changes).
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, added);
  }

  /** Forgets a task; the load of a node that is gone goes with its last task. */
  private release(nodeId: string, t: TaskView): void {
    const load = this.holder(nodeId);
    load.remove(t);
    if (load.empty && !this.present.has(nodeId)) this.byId.delete(nodeId);
  }

  /** The load of a node id, made on first use (a task seen before its node). */
  private holder(nodeId: string): NodeLoad {
    let load = this.byId.get(nodeId);
    if (load === undefined) {
      load = new NodeLoad({ meta: { id: nodeId } });
      this.byId.set(nodeId, load);
    }
    return load;
  }
}
