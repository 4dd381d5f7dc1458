// The scheduler's decision, as a pure function of the cluster (unit tests and the scale
// benchmark call it directly). Each pending task goes to a node that passes every filter
// (./filters.ts), in the branch its placement preferences choose (./spread.ts), with the
// fewest active tasks of its service, then the fewest active tasks overall, then the lowest
// node id; each placement counts for the next, so a burst of tasks spreads. Tasks are taken in
// the order given.
//
// The cost of a placement does not grow with the cluster (issue 17: 100,000 tasks on 1,000
// nodes). Tasks of one service with the same spec are a group, as in SwarmKit: the group's
// nodes are filtered once (filters 1-3) and kept in a tree of its preferences with a heap of
// nodes at each leaf (./spread.ts, ./heap.ts), so a task is placed in O(log nodes) rather than
// after a look at every node. The decisions are the ones the look at every node gave (the unit
// tests hold both to the same answers), the pending message included.
import { BatonError } from '../../rpc/errors.js';
import type { TaskView } from '../reconcile/tasks.js';
import { type Constraint, type NodeView, parseConstraints } from './constraints.js';
import { type Demand, type NodeLoad, type Reason, demandOf, maxReplicasOf, noSuitableNode, portName, runtimeOf, staticFailure } from './filters.js';
import { NodeLoads } from './loads.js';
import { SpreadTree } from './spread.js';

export type Decision = { taskId: string; nodeId: string } | { taskId: string; nodeId?: undefined; message: string };

type Counts = Map<string, { reason: Reason; n: number }>;

function count(counts: Counts, r: Reason, n = 1): void {
  const c = counts.get(r.key);
  if (c === undefined) counts.set(r.key, { reason: r, n });
  else c.n += n;
}

function uncount(counts: Counts, r: Reason): void {
  const c = counts.get(r.key);
  if (c === undefined) return;
  if (--c.n === 0) counts.delete(r.key);
}

/**
 * What makes two tasks interchangeable to the filters and the spread order: the service and
 * every field of the task a filter or a preference reads.
 */
function groupKey(t: TaskView): string {
  const r = t.spec?.resources?.reservations;
  let key = `${t.serviceId ?? ''}\0${runtimeOf(t)}\0${Number(r?.nanoCpus ?? 0)}\0${Number(r?.memoryBytes ?? 0)}\0${maxReplicasOf(t)}`;
  for (const c of t.spec?.placement?.constraints ?? []) key += `\0c${c}`;
  for (const p of t.spec?.placement?.preferences ?? []) key += `\0s${p.spread ?? ''}`;
  for (const p of t.endpoint?.ports ?? []) {
    const name = portName(p);
    if (name !== undefined) key += `\0p${name}`;
  }
  return key;
}

/** The placements of one pass, in order: a pending message looks again at the nodes they changed. */
type PlacementLog = NodeLoad[];

/** One group's state through a pass. */
class Group {
  readonly demand: Demand;
  /** Why nodes fail filters 1-3 (fixed for the pass). */
  private readonly staticFailures: Counts = new Map();
  /** Why each node the group gave up on fails filters 4-6, as of the placements seen. */
  private readonly dropped = new Map<NodeLoad, Reason>();
  private readonly dynamicFailures: Counts = new Map();
  readonly tree: SpreadTree | undefined;
  readonly invalid: string | undefined;
  /** Placements of the service (all its groups) this pass, as this group's counts know them. */
  synced: number;
  /** The placements (log length) the dropped nodes' reasons and the message reflect. */
  private seen = 0;
  private message: string | undefined;
  /** Asked by the tree about one node at a time; made once per group, not per task. */
  readonly fits: (load: NodeLoad) => boolean;

  constructor(loads: readonly NodeLoad[], first: TaskView, synced: number) {
    this.demand = demandOf(first);
    this.synced = synced;
    this.fits = (load) => {
      const r = load.failureFor(this.demand);
      if (r === undefined) return true;
      this.dropped.set(load, r);
      count(this.dynamicFailures, r);
      this.message = undefined;
      return false;
    };
    let parsed: Constraint[];
    try {
      parsed = parseConstraints(first.spec?.placement?.constraints);
    } catch (err) {
      this.invalid = err instanceof BatonError ? err.message : String(err);
      return;
    }
    const runtime = runtimeOf(first);
    const eligible: NodeLoad[] = [];
    for (const load of loads) {
      const r = staticFailure(load.node, runtime, parsed);
      if (r === undefined) eligible.push(load);
      else count(this.staticFailures, r);
    }
    const descriptors = (first.spec?.placement?.preferences ?? []).map((p) => p.spread ?? '');
    this.tree = new SpreadTree(eligible, this.demand.serviceId, descriptors);
  }

  /**
   * "no suitable node (…)" once no node can take the group's tasks: every eligible node has
   * been dropped, each counted under the first filter it fails now. A placement of another
   * group since may have made an earlier filter fail on its node (CPU taken where a port was
   * the reason), so the nodes placed on since the last message are looked at again.
   */
  pendingMessage(log: PlacementLog): string {
    if (this.message !== undefined && this.seen === log.length) return this.message;
    for (let i = this.seen; i < log.length; i++) {
      const load = log[i]!;
      const before = this.dropped.get(load);
      if (before === undefined) continue;
      const now = load.failureFor(this.demand) ?? before;
      if (now.key === before.key) continue;
      uncount(this.dynamicFailures, before);
      count(this.dynamicFailures, now);
      this.dropped.set(load, now);
    }
    this.seen = log.length;
    const all: Counts = new Map();
    for (const v of this.staticFailures.values()) count(all, v.reason, v.n);
    for (const v of this.dynamicFailures.values()) count(all, v.reason, v.n);
    return (this.message = noSuitableNode(all));
  }
}

/**
 * Places `pending` (in its order) on `loads` (the nodes in id order, with what they hold) and
 * counts each placement on its node's load, as the task will be once assigned. The caller
 * keeps or forgets those counts (the scheduler loop removes them again: the store's changes
 * bring the same tasks back once its writes are applied).
 */
export function placeTasks(loads: readonly NodeLoad[], pending: readonly TaskView[]): Decision[] {
  const groups = new Map<string, Group>();
  /** Placements per service this pass: a group's branch counts are stale when another group of its service placed. */
  const perService = new Map<string, number>();
  const log: PlacementLog = [];
  const decisions: Decision[] = [];
  for (const t of pending) {
    const taskId = t.meta?.id ?? '';
    const serviceId = t.serviceId ?? '';
    const placedOfService = perService.get(serviceId) ?? 0;
    const key = groupKey(t);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = new Group(loads, t, placedOfService)));
    const tree = group.tree;
    if (tree === undefined) {
      decisions.push({ taskId, message: `no suitable node (${group.invalid ?? ''})` });
      continue;
    }
    if (group.synced !== placedOfService) {
      tree.recount();
      group.synced = placedOfService;
    }
    const best = tree.choose(group.fits);
    if (best === undefined) {
      decisions.push({ taskId, message: group.pendingMessage(log) });
      continue;
    }
    best.add(t);
    tree.placed();
    perService.set(serviceId, (group.synced = placedOfService + 1));
    log.push(best);
    decisions.push({ taskId, nodeId: best.id });
  }
  return decisions;
}

/**
 * `nodes`: every node; `tasks`: every task (those with a node count toward its load);
 * `pending`: the tasks to place. One decision per pending task, in its order.
 */
export function scheduleTasks(nodes: readonly NodeView[], tasks: readonly TaskView[], pending: readonly TaskView[]): Decision[] {
  return placeTasks(NodeLoads.from(nodes, tasks).nodes(), pending);
}
