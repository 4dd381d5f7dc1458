// The scheduler's decision, as a pure function of the cluster (unit tests and the scale
// benchmark call it directly). Each pending task goes to a node that passes every filter
// (./filters.ts), in the branch its placement preferences choose (./spread.ts), with the
// fewest active tasks of its service, then the fewest active tasks overall, then the lowest
// node id; each placement counts for the next, so a burst of tasks spreads. Tasks are taken in
// the order given.
import { BatonError } from '../../rpc/errors.js';
import type { TaskView } from '../reconcile/tasks.js';
import { type Constraint, type NodeView, parseConstraints } from './constraints.js';
import { NodeLoad, type Reason, noSuitableNode, runtimeOf, staticFailure } from './filters.js';
import { spreadChoice } from './spread.js';

export type Decision = { taskId: string; nodeId: string } | { taskId: string; nodeId?: undefined; message: string };

type Counts = Map<string, { reason: Reason; n: number }>;

/** Tasks with the same runtime and constraints pass filters 1-3 on the same nodes. */
interface Group {
  candidates: NodeLoad[];
  failures: Counts;
  invalid?: string;
}

function count(counts: Counts, r: Reason, n = 1): void {
  const c = counts.get(r.key);
  if (c === undefined) counts.set(r.key, { reason: r, n });
  else c.n += n;
}

function groupFor(loads: readonly NodeLoad[], runtime: string, constraints: readonly string[]): Group {
  let parsed: Constraint[];
  try {
    parsed = parseConstraints(constraints);
  } catch (err) {
    return { candidates: [], failures: new Map(), invalid: err instanceof BatonError ? err.message : String(err) };
  }
  const group: Group = { candidates: [], failures: new Map() };
  for (const load of loads) {
    const r = staticFailure(load.node, runtime, parsed);
    if (r === undefined) group.candidates.push(load);
    else count(group.failures, r);
  }
  return group;
}

/** Which of `a`, `b` spreads better for a task of `serviceId` (ties: lower node id, i.e. `a` when sorted). */
function better(a: NodeLoad, b: NodeLoad, serviceId: string): boolean {
  const d = a.ofService(serviceId) - b.ofService(serviceId);
  if (d !== 0) return d < 0;
  return a.total < b.total;
}

/**
 * `nodes`: every node; `tasks`: every task (those with a node count toward its load);
 * `pending`: the tasks to place. One decision per pending task, in its order.
 */
export function scheduleTasks(nodes: readonly NodeView[], tasks: readonly TaskView[], pending: readonly TaskView[]): Decision[] {
  const loads = nodes.map((n) => new NodeLoad(n)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byId = new Map(loads.map((l) => [l.id, l]));
  for (const t of tasks) if (t.nodeId) byId.get(t.nodeId)?.add(t);
  const groups = new Map<string, Group>();
  const decisions: Decision[] = [];
  for (const t of pending) {
    const taskId = t.meta?.id ?? '';
    const runtime = runtimeOf(t);
    const constraints = t.spec?.placement?.constraints ?? [];
    const key = [runtime, ...constraints].join('\0');
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = groupFor(loads, runtime, constraints)));
    if (group.invalid !== undefined) {
      decisions.push({ taskId, message: `no suitable node (${group.invalid})` });
      continue;
    }
    const serviceId = t.serviceId ?? '';
    let dynamic: Counts | undefined;
    let fits: NodeLoad[] = [];
    for (const load of group.candidates) {
      const r = load.failure(t);
      if (r !== undefined) count((dynamic ??= new Map() as Counts), r);
      else fits.push(load);
    }
    const descriptors = (t.spec?.placement?.preferences ?? []).map((p) => p.spread ?? '');
    if (descriptors.length > 0) fits = [...spreadChoice(group.candidates, fits, serviceId, descriptors)];
    let best: NodeLoad | undefined;
    for (const load of fits) if (best === undefined || better(load, best, serviceId)) best = load;
    if (best !== undefined) {
      best.add(t);
      decisions.push({ taskId, nodeId: best.id });
      continue;
    }
    const all: Counts = new Map([...group.failures].map(([k, v]) => [k, { ...v }]));
    for (const v of dynamic?.values() ?? []) count(all, v.reason, v.n);
    decisions.push({ taskId, message: noSuitableNode(all) });
  }
  return decisions;
}
