// How the CLI shows a job: `service ls` MODE and REPLICAS as Docker prints them ("replicated
// job", "1/2 (3/5 completed)"), the mode in `service inspect --pretty`, and what counts as a
// task of the current run (its job iteration) and as completed (exit code 0).
import { baton } from '../client/index.js';

type Service = baton.Service.$Properties;
type Task = baton.Task.$Properties;
const S = baton.TaskState;

export function isJobService(s: Service): boolean {
  return !!s.spec?.replicatedJob || !!s.spec?.globalJob;
}

/** The service's tasks of its current job iteration. */
export function currentRun(s: Service, tasks: readonly Task[]): Task[] {
  const iteration = Number(s.jobStatus?.jobIteration ?? 0);
  return tasks.filter((t) => t.serviceId === s.meta?.id && Number(t.jobIteration ?? 0) === iteration);
}

export function completedOk(t: Task): boolean {
  return t.status?.state === S.TASK_COMPLETE && (t.status.exitCode ?? 0) === 0;
}

export interface JobCounts {
  running: number;
  /** Tasks wanted at once: a replicated job's max concurrent (as Docker counts it); a global job's tasks still to complete. */
  desired: number;
  completed: number;
  total: number;
}

export function jobCounts(s: Service, tasks: readonly Task[]): JobCounts {
  const run = currentRun(s, tasks);
  const wanted = run.filter((t) => t.desiredState === S.TASK_RUNNING);
  const running = wanted.filter((t) => t.status?.state === S.TASK_RUNNING).length;
  const completed = run.filter(completedOk).length;
  const job = s.spec?.replicatedJob;
  if (job) {
    const total = Number(job.totalCompletions ?? 0);
    return { running, desired: Number(job.maxConcurrent ?? 0) || total, completed, total };
  }
  // A global job: the tasks still to complete, and those that did.
  const desired = wanted.filter((t) => !completedOk(t)).length;
  return { running, desired, completed, total: desired + completed };
}

/** `service ls` MODE and REPLICAS of a job; undefined for a service that is not one. */
export function jobColumns(s: Service, tasks: readonly Task[]): { mode: string; replicas: string } | undefined {
  if (!isJobService(s)) return undefined;
  const c = jobCounts(s, tasks);
  return { mode: s.spec?.replicatedJob ? 'replicated job' : 'global job', replicas: `${c.running}/${c.desired} (${c.completed}/${c.total} completed)` };
}

/** `service inspect --pretty`'s Mode of a job; undefined for a service that is not one. */
export function jobModeText(s: Service): string | undefined {
  if (!isJobService(s)) return undefined;
  const status = s.jobStatus ?? {};
  const last = Number(status.lastExecution ?? 0);
  const run = `\n Job iteration:\t${Number(status.jobIteration ?? 0)}${last > 0 ? `\n Last execution:\t${new Date(last).toISOString()}` : ''}`;
  const job = s.spec?.replicatedJob;
  if (!job) return `Global job${run}`;
  return `Replicated job\n Max concurrent:\t${Number(job.maxConcurrent ?? 0)}\n Total completions:\t${Number(job.totalCompletions ?? 0)}${run}`;
}
