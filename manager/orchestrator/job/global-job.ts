// A global job (`--mode global-job`): one task of the current iteration run to completion on
// each eligible node (the global orchestrator's eligibility, ../global.ts). A node that joins
// later, or becomes eligible, gets its task too; a node whose task completed gets no other in
// that iteration. Failures are retried on the same node as the restart policy says.
import type { Stored } from '../../store/index.js';
import { reconcileInstances, type PassContext, type Want } from '../instance.js';
import { nodeInstances } from '../global.js';
import { completedOk, iterationOf } from './status.js';
import { splitByIteration } from './iteration-split.js';

export function reconcileGlobalJob(ctx: PassContext, tasks: readonly Stored<'task'>[], nodes: readonly Stored<'node'>[], onBadConstraint: (err: Error) => void): number | undefined {
  const jobIteration = iterationOf(ctx.service.jobStatus);
  const { kept } = splitByIteration(ctx, tasks);
  // A node whose task of this iteration completed gets no other.
  const want = (base: Want, nodeTasks: readonly Stored<'task'>[]): Want =>
    base === 'run' && nodeTasks.some((t) => Number(t.jobIteration ?? 0) === jobIteration && completedOk(t)) ? 'keep' : base;
  return reconcileInstances(ctx, nodeInstances(ctx, kept, nodes, onBadConstraint, { jobIteration, want }));
}
