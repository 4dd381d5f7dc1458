// How the CLI shows a job: `service ls` MODE and REPLICAS as Docker prints them ("replicated
// job", "1/2 (3/5 completed)"), the mode in `service inspect --pretty`, and what counts as a
// task of the current run (its job iteration) and as completed (exit code 0).
import { completedOk, inCurrentRun, serviceTaskCounts, type ServiceTaskCounts } from '../spec/index.js';
import type { baton } from '../client/index.js';

type Service = baton.Service.$Properties;
type Task = baton.Task.$Properties;
export { completedOk };

export function isJobService(s: Service): boolean {
  return !!s.spec?.replicatedJob || !!s.spec?.globalJob;
}

/** The service's tasks of its current job iteration. */
export function currentRun(s: Service, tasks: readonly Task[]): Task[] {
  return tasks.filter((t) => t.serviceId === s.meta?.id && inCurrentRun(s, t));
}

export interface JobCounts extends ServiceTaskCounts {
  total: number;
}

/** A job's counts (spec/service-status.ts) and its total: the completions asked, or for a global job, those to do and done. */
export function jobCounts(s: Service, counts: ServiceTaskCounts): JobCounts {
  const job = s.spec?.replicatedJob;
  return { ...counts, total: job ? Number(job.totalCompletions ?? 0) : counts.desired + counts.completed };
}

/** The counts of a service from a list of tasks (of any services). */
export function countsFromTasks(s: Service, tasks: readonly Task[]): ServiceTaskCounts {
  return serviceTaskCounts(s, tasks.filter((t) => t.serviceId === s.meta?.id));
}

/** `service ls` MODE and REPLICAS of a job; undefined for a service that is not one. */
export function jobColumns(s: Service, counts: ServiceTaskCounts): { mode: string; replicas: string } | undefined {
  if (!isJobService(s)) return undefined;
  const c = jobCounts(s, counts);
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
