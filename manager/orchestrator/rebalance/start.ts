// How a rebalance begins, for the automatic loop (./loop.ts) and `service rebalance` (the
// control API) alike: one write that labels each task to move with the node it goes to and
// sets the service's update status to a rolling "rebalance". From there the rolling updater
// (../update/) does the moving, start-first, with the service's parallelism, delay, monitor and
// failure action, so a rebalance is seen and followed as any update is.
import { baton } from '../../../proto/gen/baton.js';
import { cloneObject, updateAction, type StoreActionT, type Stored } from '../../store/index.js';
import { REBALANCE_TO_LABEL } from '../../reconcile/fresh.js';
import { isActive, specVersionOf } from '../../reconcile/tasks.js';
import { TaskWrites } from '../../reconcile/writes.js';
import type { Move } from './plan.js';

/** "2 tasks to node-3, 1 task to node-4". */
export function movesText(moves: readonly Move[], node: (id: string) => Stored<'node'> | undefined): string {
  const perNode = new Map<string, number>();
  for (const m of moves) perNode.set(m.to, (perNode.get(m.to) ?? 0) + 1);
  return [...perNode].map(([id, n]) => `${n} task${n === 1 ? '' : 's'} to ${node(id)?.description?.hostname || id}`).join(', ');
}

/**
 * The writes that start moving `moves` of `service` (a non-empty plan): the service's status,
 * then the labels. A label an earlier, unfinished rebalance left on a task not moving now is
 * taken off. Tasks are written with the version they were read at: a change in between fails
 * the batch and the caller plans again.
 */
export function startRebalance(
  service: Stored<'service'>,
  moves: readonly Move[],
  tasks: readonly Stored<'task'>[],
  node: (id: string) => Stored<'node'> | undefined,
  now: number,
): StoreActionT[] {
  const next = cloneObject('service', service);
  next.meta = { ...next.meta, updatedAt: now };
  // Only the status changes: the tasks stay current for the restart policy.
  next.specVersion = specVersionOf(service);
  next.updateStatus = { state: baton.UpdateState.UPDATING, startedAt: now, message: `rebalance: moving ${movesText(moves, node)}`, rebalance: true };
  const writes = new TaskWrites(now);
  const target = new Map(moves.map((m) => [m.task.meta.id, m.to]));
  for (const t of tasks) {
    // A finished task keeps its labels: they say where it was moved to.
    if (!isActive(t)) continue;
    const to = target.get(t.meta.id);
    const had = t.annotations?.labels?.[REBALANCE_TO_LABEL];
    if (to === undefined && had === undefined) continue;
    if (to === had) continue;
    writes.update(t, (c) => {
      const labels = { ...c.annotations?.labels };
      if (to === undefined) delete labels[REBALANCE_TO_LABEL];
      else labels[REBALANCE_TO_LABEL] = to;
      c.annotations = { ...c.annotations, labels };
    });
  }
  return [updateAction('service', next), ...writes.actions()];
}
