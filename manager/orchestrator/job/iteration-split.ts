// What a job's tasks are to this pass: those of the current iteration, and those of earlier
// ones. An earlier iteration's task still wanted is stopped (a new iteration replaces the run
// as a whole) and left out of this pass; its finished ones stay as history.
import type { Stored } from '../../store/index.js';
import { isWanted } from '../../reconcile/tasks.js';
import { stopTask, type PassContext } from '../instance.js';
import { iterationOf } from './status.js';

export interface Split {
  /** The tasks the instances see: the current iteration's and earlier finished ones. */
  kept: Stored<'task'>[];
  /** The current iteration's only. */
  current: Stored<'task'>[];
}

export function splitByIteration(ctx: PassContext, tasks: readonly Stored<'task'>[]): Split {
  const iteration = iterationOf(ctx.service.jobStatus);
  const kept: Stored<'task'>[] = [];
  const current: Stored<'task'>[] = [];
  for (const t of tasks) {
    if (Number(t.jobIteration ?? 0) === iteration) {
      current.push(t);
      kept.push(t);
    } else if (isWanted(t)) stopTask(ctx.writes, t);
    else kept.push(t);
  }
  return { kept, current };
}
