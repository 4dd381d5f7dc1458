// Which tasks a rebalance moves, as a pure function of the cluster (unit tests call it
// directly). Swarm places a task once and leaves it there (moby#24103): a node that joins, comes
// back or is activated after a drain gets nothing until tasks fail. A rebalance moves the fewest
// tasks that even the spread the scheduler aims for (../../scheduler/schedule.ts):
//   - placement preferences first: `spread=node.labels.zone` evens the zones, then each next
//     preference the branches inside them, then the nodes of a branch;
//   - one move at a time, each from the most loaded place to the least loaded one that can take
//     the task now (available, runtime, constraints, resources, host ports, max replicas per
//     node), and only when it narrows the gap: the source holds at least two more of the
//     service's tasks than the destination at the first level where the two differ. A move that
//     would only swap which side holds one more is no move.
// Each move counts for the next, so the plan is what the spread is once every move is done.
import { baton } from '../../../proto/gen/baton.js';
import type { DeepReadonly, Stored } from '../../store/index.js';
import { isActive, isFinished, stateOf, type TaskView } from '../../reconcile/tasks.js';
import { parseConstraints, type Constraint, type NodeView } from '../../scheduler/constraints.js';
import { NodeLoad, runtimeOf, staticFailure } from '../../scheduler/filters.js';
import { spreadValue } from '../../scheduler/spread.js';
import { isUpToDate } from '../../reconcile/fresh.js';
import { isReplicated } from '../service-loop.js';

const S = baton.TaskState;

export interface Move {
  task: Stored<'task'>;
  from: string;
  to: string;
}

/** Why nothing moves, when that is not simply "already even". */
export type Blocked = 'not-replicated' | 'in-flux' | 'old-spec';

export interface RebalancePlan {
  moves: Move[];
  blocked?: Blocked;
}

/** The tasks of `service` that hold a slot on a node: what a rebalance may move. */
function placed(service: Stored<'service'>, tasks: readonly Stored<'task'>[]): Stored<'task'>[] {
  const replicas = Number(service.spec?.replicas ?? 0);
  return tasks.filter((t) => t.serviceId === service.meta.id && isActive(t) && t.slot >= 1 && t.slot <= replicas);
}

/**
 * The moves that even `service`'s spread over `nodes`; `tasks`: every task of the cluster (the
 * others count toward resources and host ports). Nothing moves while the service is in flux
 * (a task waiting for a node or still starting) or has tasks of an older spec (an update's
 * business): a picture taken mid-change would move tasks for nothing.
 */
export function planRebalance(service: Stored<'service'>, nodes: readonly Stored<'node'>[], tasks: readonly Stored<'task'>[]): RebalancePlan {
  if (!isReplicated(service)) return { moves: [], blocked: 'not-replicated' };
  const mine = placed(service, tasks);
  const all = tasks.filter((t) => t.serviceId === service.meta.id && isActive(t));
  if (all.some((t) => t.nodeId === '' || stateOf(t) < S.TASK_RUNNING)) return { moves: [], blocked: 'in-flux' };
  if (all.some((t) => !isUpToDate(service, t))) return { moves: [], blocked: 'old-spec' };

  const spec: DeepReadonly<baton.TaskSpec.$Properties> = service.spec?.task ?? {};
  let constraints: Constraint[];
  try {
    constraints = parseConstraints(spec.placement?.constraints);
  } catch {
    // The manager refuses such a spec; the scheduler explains a stored one.
    return { moves: [], blocked: 'in-flux' };
  }
  // What a replacement looks like to the filters: the service's spec and endpoint.
  const fresh: TaskView = { serviceId: service.meta.id, spec, endpoint: service.endpoint ?? {}, desiredState: S.TASK_RUNNING, status: { state: S.TASK_PENDING } };
  const runtime = runtimeOf(fresh);
  const loads = new Map<string, NodeLoad>();
  for (const n of [...nodes].sort((a, b) => (a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0))) loads.set(n.meta.id, new NodeLoad(n));
  for (const t of tasks) if (t.nodeId !== '' && !isFinished(stateOf(t))) loads.get(t.nodeId)?.add(t);

  // The service's tasks per node as the plan goes (NodeLoad never forgets a task it was given:
  // right for resources, since the old task runs until its replacement is up).
  const count = new Map<string, number>();
  const onNode = new Map<string, Stored<'task'>[]>();
  for (const t of mine) {
    count.set(t.nodeId, (count.get(t.nodeId) ?? 0) + 1);
    const list = onNode.get(t.nodeId) ?? [];
    list.push(t);
    onNode.set(t.nodeId, list);
  }
  // Highest slot moves first: deterministic, and slot 1 (often watched first) stays put.
  for (const list of onNode.values()) list.sort((a, b) => a.slot - b.slot || (a.meta.id < b.meta.id ? -1 : 1));

  const eligible = [...loads.values()].filter((l) => staticFailure(l.node, runtime, constraints) === undefined);
  // The places that count: nodes that may take the service's tasks, and those that hold some.
  const counted = new Map<string, NodeView>();
  for (const l of eligible) counted.set(l.id, l.node);
  for (const id of count.keys()) {
    const n = loads.get(id)?.node;
    if (n !== undefined) counted.set(id, n);
  }
  const descriptors = (spec.placement?.preferences ?? []).map((p) => p.spread ?? '');
  const levels = [...descriptors, 'node.id'];
  const valueAt = (node: NodeView, level: number): string => spreadValue(node, levels[level]!);
  /** The service's tasks in `node`'s branch at `level`, among the nodes that count. */
  const branchCount = (node: NodeView, level: number): number => {
    let n = 0;
    for (const [id, other] of counted) {
      let same = true;
      for (let l = 0; l <= level && same; l++) same = valueAt(other, l) === valueAt(node, l);
      if (same) n += count.get(id) ?? 0;
    }
    return n;
  };

  const moves: Move[] = [];
  type Candidate = { from: string; to: NodeLoad; level: number; gap: number; held: number };
  // The widest gap at the shallowest level; then from the node holding the most (so a branch
  // gives from its fullest node and is not left uneven inside), to the least loaded node, by id.
  const better = (a: Candidate, b: Candidate | undefined): boolean => {
    if (b === undefined) return true;
    if (a.level !== b.level) return a.level < b.level;
    if (a.gap !== b.gap) return a.gap > b.gap;
    if (a.held !== b.held) return a.held > b.held;
    if (a.to.total !== b.to.total) return a.to.total < b.to.total;
    if (a.from !== b.from) return a.from < b.from;
    return a.to.id < b.to.id;
  };
  for (let guard = mine.length; guard > 0; guard--) {
    let best: Candidate | undefined;
    for (const [from, held] of count) {
      if (held === 0) continue;
      const source = counted.get(from);
      if (source === undefined) continue;
      for (const to of eligible) {
        if (to.id === from || to.failure(fresh) !== undefined) continue;
        let level = 0;
        while (level < levels.length - 1 && valueAt(source, level) === valueAt(to.node, level)) level++;
        const gap = branchCount(source, level) - branchCount(to.node, level);
        if (gap < 2) continue;
        const c: Candidate = { from, to, level, gap, held };
        if (better(c, best)) best = c;
      }
    }
    if (best === undefined) break;
    const task = onNode.get(best.from)!.pop()!;
    moves.push({ task, from: best.from, to: best.to.id });
    count.set(best.from, count.get(best.from)! - 1);
    count.set(best.to.id, (count.get(best.to.id) ?? 0) + 1);
    if (!counted.has(best.to.id)) counted.set(best.to.id, best.to.node);
    best.to.add(fresh);
  }
  return { moves };
}
