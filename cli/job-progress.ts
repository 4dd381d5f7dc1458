// `service create|update|scale` of a job without --detach: waits until the job's current run
// completes, showing its progress as Docker's CLI does ("job progress: 3 out of 5 complete",
// "active tasks: 2 out of 2 tasks", one line per slot or node), then "job complete". A job that
// can no longer complete (a task failed and its restart policy gives up) fails the command with
// the task's error; one still retrying is waited for up to the converge timeout.
import { baton, BatonError, type BatonClient } from '../client/index.js';
import { ProgressView } from './progress-view.js';
import { taskStateName } from './task-state.js';
import { completedOk, countsFromTasks, currentRun, jobCounts } from './job-view.js';

type Service = baton.Service.$Properties;
type Task = baton.Task.$Properties;
const S = baton.TaskState;
const TIMEOUT_MS = Number(process.env.BATON_CONVERGE_TIMEOUT_MS ?? 120_000);
const POLL_MS = 300;
/** Per-task lines are left out above this many (Docker's limit of progress bars). */
const MAX_LINES = 20;

function bar(done: number, total: number): string {
  const width = 25;
  const filled = total > 0 ? Math.floor((done / total) * width) : width;
  return `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]`;
}

/** A slot's or node's task of the current run that ended for good: failed, and not to be retried. */
function failedForGood(t: Task, restart: baton.RestartPolicy.$Properties | null | undefined): boolean {
  const state = t.status?.state ?? S.TASK_NEW;
  if (t.desiredState === S.TASK_RUNNING || state < S.TASK_COMPLETE || completedOk(t)) return false;
  if (state === S.TASK_SHUTDOWN || state === S.TASK_ORPHANED) return false; // stopped by us: replaced
  return restart?.condition === baton.RestartCondition.RESTART_NONE || (t.status?.message ?? '').startsWith('not restarted');
}

/** The current run's tasks grouped by slot (replicated job) or node (global job); the latest first in each. */
function byInstance(svc: Service, run: Task[]): Map<string, Task[]> {
  const groups = new Map<string, Task[]>();
  const sorted = run.slice().sort((a, b) => Number(b.meta?.createdAt ?? 0) - Number(a.meta?.createdAt ?? 0));
  for (const t of sorted) {
    const k = svc.spec?.replicatedJob ? String(t.slot ?? 0) : t.nodeId ?? '';
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  return groups;
}

function report(svc: Service, tasks: Task[]): { text: string; done: boolean; failed: Task | undefined } {
  const c = jobCounts(svc, countsFromTasks(svc, tasks));
  const run = currentRun(svc, tasks);
  const groups = byInstance(svc, run);
  const keys = [...groups.keys()].sort((a, b) => (svc.spec?.replicatedJob ? Number(a) - Number(b) : a.localeCompare(b)));
  let failed: Task | undefined;
  const lines: string[] = [];
  for (const k of keys) {
    const list = groups.get(k)!;
    const shown = list.find(completedOk) ?? list[0]!;
    if (!list.some(completedOk) && failedForGood(shown, svc.spec?.task?.restart)) failed ??= shown;
    const label = svc.spec?.replicatedJob ? `${k}/${c.total}` : k.slice(0, 12);
    lines.push(`${label}: ${taskStateName(shown.status?.state)}${shown.status?.err ? ` (${shown.status.err})` : ''}`);
  }
  const head = [`job progress: ${c.completed} out of ${c.total} complete ${bar(c.completed, c.total)}`];
  // As Docker's: the tasks that may run at once, fewer as the job nears its total.
  if (svc.spec?.replicatedJob) head.push(`active tasks: ${c.running} out of ${Math.max(0, Math.min(c.desired, c.total - c.completed))} tasks`);
  const text = [...head, ...(lines.length <= MAX_LINES ? lines : [])].join('\n');
  const done = c.total > 0 ? c.completed >= c.total : !!svc.spec?.replicatedJob;
  // Failed: a task gave up and nothing of the run is still wanted.
  const stillRunning = run.some((t) => t.desiredState === S.TASK_RUNNING);
  return { text, done, failed: failed && !stillRunning ? failed : undefined };
}

export async function waitForJob(client: BatonClient, first: Service, quiet: boolean): Promise<void> {
  const ref = first.meta?.id ?? '';
  const name = first.spec?.annotations?.name || ref;
  const started = Date.now();
  const view = new ProgressView(quiet);
  for (;;) {
    const svc = await client.control.call('GetService', { id: ref });
    const tasks = await client.list('ListTasks', { serviceId: ref });
    const r = report(svc, tasks);
    view.show(r.text);
    // A failure first: a global job's failed node counts in neither desired nor completed.
    if (r.failed) {
      const why = r.failed.status?.err || r.failed.status?.message || taskStateName(r.failed.status?.state);
      throw new BatonError('FAILED_PRECONDITION', `job ${name} failed: task ${r.failed.annotations?.name ?? r.failed.meta?.id}: ${why}; see baton service ps ${name}`);
    }
    if (r.done) {
      view.say('job complete');
      return;
    }
    if (Date.now() - started > TIMEOUT_MS) throw new BatonError('DEADLINE_EXCEEDED', `job ${name} did not complete in ${TIMEOUT_MS / 1000}s; see baton service ps ${name}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
