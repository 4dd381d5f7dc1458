// A job's runs (Swarm's job iterations). A job service carries job_status: the iteration its
// tasks are made for and when that iteration began. Creating the job starts iteration 0; every
// later write of its spec (`service update`, `--force`, `service scale`, a rollback) starts the
// next one, whose tasks run again from scratch, as Docker's: "when a Swarm Job is updated all
// tasks will be restarted, including Tasks that are in the Running or Completed state".
import { baton } from '../../../proto/gen/baton.js';
import type { DeepReadonly } from '../../store/index.js';
import { stateOf, type TaskView } from '../../reconcile/tasks.js';
import { endedInFailure } from '../restart.js';

type SpecLike = DeepReadonly<baton.ServiceSpec.$Properties> | null | undefined;

export function isJobSpec(spec: SpecLike): boolean {
  return !!spec?.replicatedJob || !!spec?.globalJob;
}

/** The mode's name as `--mode` spells it. */
export function modeName(spec: SpecLike): 'replicated' | 'global' | 'replicated-job' | 'global-job' {
  if (spec?.replicatedJob) return 'replicated-job';
  if (spec?.globalJob) return 'global-job';
  return spec?.global ? 'global' : 'replicated';
}

/** The job status of a service created with `spec` (none for a service that is not a job). */
export function firstJobStatus(spec: SpecLike, now: number): baton.JobStatus.$Properties | undefined {
  return isJobSpec(spec) ? { jobIteration: 0, lastExecution: now } : undefined;
}

/** The job status after a write of the spec: the next iteration, begun now. */
export function nextJobStatus(current: DeepReadonly<baton.JobStatus.$Properties> | null | undefined, now: number): baton.JobStatus.$Properties {
  return { jobIteration: Number(current?.jobIteration ?? 0) + 1, lastExecution: now };
}

export function iterationOf(status: DeepReadonly<baton.JobStatus.$Properties> | null | undefined): number {
  return Number(status?.jobIteration ?? 0);
}

/** A job task that did its work: COMPLETE, exit code 0. It is never run again in its iteration. */
export function completedOk(t: TaskView): boolean {
  return stateOf(t) === baton.TaskState.TASK_COMPLETE && !endedInFailure(t);
}
