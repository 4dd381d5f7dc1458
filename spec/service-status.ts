// A service's task counts as Docker's ServiceStatus has them (RunningTasks, DesiredTasks,
// CompletedTasks): what `service ls` prints in REPLICAS. One function for both sides: the
// manager fills them in ListServices (so `service ls` need not fetch every task), and the CLI
// counts the same way from ListTasks when a server does not send them.
import { baton } from '../proto/gen/baton.js';

const S = baton.TaskState;

/** What the counts read of a service: the store's (readonly) and the client's objects alike. */
interface ServiceView {
  readonly spec?: {
    readonly global?: boolean | null;
    readonly replicas?: number | null;
    readonly replicatedJob?: { readonly maxConcurrent?: number | null; readonly totalCompletions?: number | null } | null;
    readonly globalJob?: object | null;
  } | null;
  readonly jobStatus?: { readonly jobIteration?: number | null } | null;
}

interface TaskView {
  readonly desiredState?: baton.TaskState | null;
  readonly status?: { readonly state?: baton.TaskState | null; readonly exitCode?: number | null } | null;
  readonly jobIteration?: number | null;
}

export interface ServiceTaskCounts {
  /** Tasks meant to run that are running. */
  running: number;
  /**
   * Tasks wanted at once: the replica count; a global service's tasks meant to run; a
   * replicated job's max concurrent (its total completions when unset); a global job's tasks
   * still to complete.
   */
  desired: number;
  /** Jobs: tasks of the current run that exited 0. */
  completed: number;
}

/** A job's task that finished with exit code 0. */
export function completedOk(t: TaskView): boolean {
  return t.status?.state === S.TASK_COMPLETE && (t.status.exitCode ?? 0) === 0;
}

/** True for a task of the job's current iteration (every task of a service that is not a job). */
export function inCurrentRun(s: ServiceView, t: TaskView): boolean {
  if (!s.spec?.replicatedJob && !s.spec?.globalJob) return true;
  return Number(t.jobIteration ?? 0) === Number(s.jobStatus?.jobIteration ?? 0);
}

/** The counts of a service from its own tasks (every task given must be of that service). */
export function serviceTaskCounts(s: ServiceView, tasks: Iterable<TaskView>): ServiceTaskCounts {
  let wanted = 0;
  let running = 0;
  let completed = 0;
  let wantedNotDone = 0;
  for (const t of tasks) {
    if (!inCurrentRun(s, t)) continue;
    const ok = completedOk(t);
    if (ok) completed++;
    if (t.desiredState !== S.TASK_RUNNING) continue;
    wanted++;
    if (!ok) wantedNotDone++;
    if (t.status?.state === S.TASK_RUNNING) running++;
  }
  const spec = s.spec;
  let desired: number;
  if (spec?.replicatedJob) desired = Number(spec.replicatedJob.maxConcurrent ?? 0) || Number(spec.replicatedJob.totalCompletions ?? 0);
  else if (spec?.globalJob) desired = wantedNotDone;
  else desired = spec?.global ? wanted : Number(spec?.replicas ?? 0);
  return { running, desired, completed };
}
