// Updates that change only where tasks may run. As Swarm's updater: a live task whose spec
// differs from its service's only in the placement, on a node that satisfies the new
// constraints (and, with a max replicas per node, within that count), is brought up to the new
// spec where it runs: its stored spec is rewritten, nothing is restarted (a worker never
// restarts a task for a new assignment of the same task). The tasks that no longer fit are left
// to the rolling update, which replaces them, so only they move.
import { baton } from '../../../proto/gen/baton.js';
import type { Stored } from '../../store/index.js';
import type { TaskWrites } from '../../reconcile/writes.js';
import { isFinished, isWanted, specVersionOf, stateOf } from '../../reconcile/tasks.js';
import { isUpToDate, onlyPlacementDiffers } from '../../reconcile/fresh.js';
import { parseConstraints, satisfies, type Constraint } from '../../scheduler/index.js';

/** What this step needs of the updater's pass (plan.ts UpdateContext). */
export interface InPlaceContext {
  service: Stored<'service'>;
  tasks: readonly Stored<'task'>[];
  writes: TaskWrites;
  node(id: string): Stored<'node'> | undefined;
}

function isLive(t: Stored<'task'>): boolean {
  return isWanted(t) && !isFinished(stateOf(t));
}

/** Rewrites in place the tasks that may keep running; returns how many were. */
export function updatePlacementInPlace(ctx: InPlaceContext): number {
  const { service } = ctx;
  const placement = service.spec?.task?.placement;
  let constraints: Constraint[];
  try {
    constraints = parseConstraints(placement?.constraints);
  } catch {
    // The manager refuses such a spec; a stored one is left to the scheduler to explain.
    return 0;
  }
  const maxReplicas = Number(placement?.maxReplicas ?? 0);
  const live = ctx.tasks.filter(isLive);
  // Tasks already of the new spec count against the limit first, then the kept ones in slot order.
  const perNode = new Map<string, number>();
  for (const t of live) if (t.nodeId !== '' && isUpToDate(service, t)) perNode.set(t.nodeId, (perNode.get(t.nodeId) ?? 0) + 1);
  const candidates = live
    .filter((t) => t.nodeId !== '' && !isUpToDate(service, t) && onlyPlacementDiffers(service, t))
    .sort((a, b) => a.slot - b.slot || (a.meta.id < b.meta.id ? -1 : 1));
  let kept = 0;
  for (const t of candidates) {
    const node = ctx.node(t.nodeId);
    if (node === undefined || !constraints.every((c) => satisfies(node, c))) continue;
    const count = perNode.get(t.nodeId) ?? 0;
    if (maxReplicas > 0 && count >= maxReplicas) continue;
    perNode.set(t.nodeId, count + 1);
    ctx.writes.update(t, (c) => {
      c.spec = baton.TaskSpec.fromObject(service.spec?.task ?? {});
      c.specVersion = specVersionOf(service);
    });
    kept++;
  }
  return kept;
}
