// A global job (`--mode global-job`): one task of the current iteration run to completion on
// each eligible node (the global orchestrator's eligibility, ../global.ts). A node that joins
// later, or becomes eligible, gets its task too; a node whose task completed gets no other in
// that iteration. Failures are retried on the same node as the restart policy says.
import type { Stored } from '../../store/index.js';
import { parseConstraints, type Constraint } from '../../scheduler/constraints.js';
import { reconcileInstance, type Instance, type PassContext, type Want } from '../instance.js';
import { wantOn } from '../global.js';
import { completedOk, iterationOf } from './status.js';
import { splitByIteration } from './iteration-split.js';

export function reconcileGlobalJob(ctx: PassContext, tasks: readonly Stored<'task'>[], nodes: readonly Stored<'node'>[], onBadConstraint: (err: Error) => void): number | undefined {
  const spec = ctx.service.spec?.task;
  let constraints: Constraint[] | undefined;
  try {
    constraints = parseConstraints(spec?.placement?.constraints);
  } catch (err) {
    onBadConstraint(err as Error);
  }
  const jobIteration = iterationOf(ctx.service.jobStatus);
  const { kept } = splitByIteration(ctx, tasks);
  const byNode = new Map<string, Stored<'task'>[]>();
  const strays = new Map<number, Stored<'task'>[]>();
  for (const t of kept) {
    if (t.slot === 0 && t.nodeId !== '') byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
    else strays.set(t.slot, [...(strays.get(t.slot) ?? []), t]);
  }
  const instances: Instance[] = [];
  for (const node of nodes) {
    const id = node.meta.id;
    const nodeTasks = byNode.get(id) ?? [];
    byNode.delete(id);
    let want: Want = wantOn(node, spec?.runtime || 'docker', constraints);
    const done = nodeTasks.some((t) => Number(t.jobIteration ?? 0) === jobIteration && completedOk(t));
    if (done && want === 'run') want = 'keep';
    instances.push({ tasks: nodeTasks, want, slot: 0, nodeId: id, jobIteration });
  }
  for (const [nodeId, nodeTasks] of byNode) instances.push({ tasks: nodeTasks, want: 'stop', slot: 0, nodeId, keepFinished: 0 });
  for (const [slot, slotTasks] of strays) instances.push({ tasks: slotTasks, want: 'stop', slot, nodeId: '' });
  let wake: number | undefined;
  for (const inst of instances) {
    const due = reconcileInstance(ctx, inst);
    if (due !== undefined) wake = Math.min(wake ?? due, due);
  }
  return wake;
}
