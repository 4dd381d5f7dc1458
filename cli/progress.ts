// Progress of a service until it converges, like `docker service create` and `docker service
// update`: one line per slot, redrawn in a terminal, and the reason when it cannot converge
// (instead of hanging forever). An update is followed through its update_status: rolled back
// or paused, the command says why and fails.
import { baton, BatonError, type BatonClient } from '../client/index.js';
import { serviceTaskKey, taskKey } from '../proto/task-spec.js';
import { healthSuffix, runningAndHealthy, taskStateName } from './task-state.js';
import { DEFAULT_UPDATE_MONITOR_MS } from '../spec/index.js';
import { ProgressView } from './progress-view.js';
import { isJobService } from './job-view.js';
import { waitForJob } from './job-progress.js';

const TIMEOUT_MS = Number(process.env.BATON_CONVERGE_TIMEOUT_MS ?? 120_000);
const POLL_MS = 300;
const U = baton.UpdateState;

type Service = baton.Service.$Properties;
type Task = baton.Task.$Properties;

async function read(client: BatonClient, ref: string): Promise<{ svc: Service; tasks: Task[]; history: Task[] }> {
  const svc = await client.control.call('GetService', { id: ref });
  const all = await client.list('ListTasks', { serviceId: svc.meta?.id ?? ref });
  const tasks = all.filter((t) => t.desiredState === baton.TaskState.TASK_RUNNING);
  return { svc, tasks, history: all.filter((t) => t.desiredState !== baton.TaskState.TASK_RUNNING) };
}

/** A task's error with its name (which replica), or why it is still pending. */
function whyStuck(t: Task): string {
  return t.status?.err ? `${t.annotations?.name || t.meta?.id}: ${t.status.err}` : (t.status?.message ?? '');
}

/** The newest task that failed since `since` (already replaced, so no longer among the wanted ones): why a crash loop does not converge. */
function lastFailure(history: Task[], since: number): string {
  const failed = history
    .filter((t) => t.status?.err && Number(t.status.timestamp ?? 0) >= since)
    .sort((a, b) => Number(b.status?.timestamp ?? 0) - Number(a.status?.timestamp ?? 0))[0];
  return failed ? whyStuck(failed) : '';
}

/** How long tasks must stay up to count as converged: the update monitor (0 in the spec is Docker's default, 5 s). */
function monitorMs(svc: Service): number {
  return Number(svc.spec?.update?.monitorMs ?? 0) || DEFAULT_UPDATE_MONITOR_MS;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitForConvergence(client: BatonClient, ref: string, quiet: boolean): Promise<void> {
  const started = Date.now();
  const view = new ProgressView(quiet);
  let said = '';
  let stable: { tasks: string; since: number } | undefined;
  let verifySaid = false;
  for (;;) {
    const { svc, tasks, history } = await read(client, ref);
    // A job converges when it completes (./job-progress.ts).
    if (isJobService(svc)) return waitForJob(client, svc, quiet);
    const name = svc.spec?.annotations?.name || ref;
    const want = svc.spec?.global ? tasks.length : Number(svc.spec?.replicas ?? 0);
    // As Docker: a task with a health check counts once it is healthy, not merely running.
    const running = tasks.filter((t) => runningAndHealthy(t.status)).length;
    const stuck = tasks.find((t) => (t.status?.state === baton.TaskState.TASK_PENDING && t.status.message && t.status.message !== 'pending task scheduling') || t.status?.err);
    const reason = stuck ? whyStuck(stuck) : lastFailure(history, started);
    const slots = tasks
      .slice()
      .sort((a, b) => Number(a.slot ?? 0) - Number(b.slot ?? 0))
      .map((t) => `${t.annotations?.name ?? t.meta?.id}: ${taskStateName(t.status?.state)}${healthSuffix(t.status)}${t.status?.err ? ` (${t.status.err})` : ''}`);
    view.show([`overall progress: ${running} out of ${want} tasks`, ...slots].join('\n'));
    // As Docker: all up is not yet converged. The same tasks must stay up, and none fail, for
    // the monitor period (a crash loop is all up for a moment at a time).
    const up = running === want && tasks.length === want ? tasks.map((t) => t.meta?.id ?? '').sort().join(',') : undefined;
    if (up === undefined || up !== stable?.tasks || lastFailure(history, stable.since) !== '') stable = undefined;
    if (up !== undefined && !stable) {
      stable = { tasks: up, since: Date.now() };
      if (want > 0 && !verifySaid) {
        view.say(`verify: Waiting ${Math.round(monitorMs(svc) / 1000)} seconds to verify that tasks are stable...`);
        verifySaid = true;
      }
    }
    if (stable && (want === 0 || Date.now() - stable.since >= monitorMs(svc))) {
      view.say('verify: Service converged');
      return;
    }
    if (Date.now() - started > TIMEOUT_MS) {
      throw new BatonError('DEADLINE_EXCEEDED', `service ${name} did not converge in ${TIMEOUT_MS / 1000}s${reason ? `: ${reason}` : ''}; see baton service ps ${name}`);
    }
    if (reason && reason !== said && !quiet && !view.isTty && Date.now() - started > 3000) {
      process.stdout.write(`waiting: ${reason}\n`);
      said = reason;
    }
    await sleep(POLL_MS);
  }
}


/** "overall progress" of an update: slots whose task has the current spec and is up. */
function updateReport(svc: Service, tasks: Task[], rollingBack: boolean): { report: string; done: number; want: number } {
  const key = serviceTaskKey(svc);
  const bySlot = new Map<string, Task[]>();
  for (const t of tasks) {
    const k = svc.spec?.global ? t.nodeId ?? '' : String(t.slot ?? 0);
    bySlot.set(k, [...(bySlot.get(k) ?? []), t]);
  }
  const want = svc.spec?.global ? bySlot.size : Number(svc.spec?.replicas ?? 0);
  const keys = [...bySlot.keys()].sort((a, b) => (svc.spec?.global ? a.localeCompare(b) : Number(a) - Number(b)));
  let done = 0;
  const lines = keys.map((k, i) => {
    const slotTasks = bySlot.get(k)!;
    const fresh = slotTasks.find((t) => taskKey(t) === key);
    if (fresh && runningAndHealthy(fresh.status)) done++;
    const label = svc.spec?.global ? `${k.slice(0, 12)}` : `${i + 1}/${want}`;
    if (!fresh) return `${label}: ${taskStateName(slotTasks[0]?.status?.state)} (previous spec)`;
    const err = fresh.status?.err ? ` (${fresh.status.err})` : '';
    const health = fresh.status?.health === baton.HealthState.HEALTH_STARTING ? ' (health: starting)' : '';
    return `${label}: ${taskStateName(fresh.status?.state)}${health}${err}`;
  });
  const what = rollingBack ? 'rolling back update: ' : '';
  return { report: [`overall progress: ${what}${done} out of ${want} tasks`, ...lines].join('\n'), done, want };
}

/**
 * Follows an update (or rollback) started by `updated` (the service as the update call
 * returned it) until its update_status says it ended. A service whose tasks the change did not
 * touch (a scale) is followed until it converges. Rolled back or paused: an error, after the
 * progress says so.
 */
export async function waitForUpdate(client: BatonClient, updated: Service, quiet: boolean): Promise<void> {
  const ref = updated.meta?.id ?? '';
  const first = updated.updateStatus?.state ?? U.UPDATE_NONE;
  if (first !== U.UPDATING && first !== U.ROLLBACK_STARTED) return waitForConvergence(client, ref, quiet);
  const manualRollback = first === U.ROLLBACK_STARTED;
  const started = Date.now();
  const view = new ProgressView(quiet);
  let rollbackSaid = false;
  for (;;) {
    const { svc, tasks } = await read(client, ref);
    const status = svc.updateStatus ?? {};
    const state = status.state ?? U.UPDATE_NONE;
    const rollingBack = state === U.ROLLBACK_STARTED || state === U.ROLLBACK_PAUSED || state === U.ROLLBACK_COMPLETED;
    if (rollingBack && !manualRollback && !rollbackSaid) {
      // Docker's words, then the reason.
      const task = /task ([a-z0-9]+)/.exec(status.message ?? '')?.[1] ?? '';
      view.say(`rollback: update rolled back due to failure or early termination of task ${task}`);
      rollbackSaid = true;
    }
    const { report, done, want } = updateReport(svc, tasks, rollingBack);
    view.show(report);
    if (state === U.UPDATE_PAUSED || state === U.ROLLBACK_PAUSED) {
      throw new BatonError('FAILED_PRECONDITION', `${status.message ?? 'update paused'}; \`baton service update\` resumes it, \`baton service rollback\` returns to the previous spec`);
    }
    if ((state === U.UPDATE_COMPLETED || state === U.ROLLBACK_COMPLETED) && done === want && tasks.length === want) {
      view.say('verify: Service converged');
      if (state === U.ROLLBACK_COMPLETED && !manualRollback) throw new BatonError('FAILED_PRECONDITION', `service ${svc.spec?.annotations?.name ?? ref}: ${status.message ?? 'update rolled back'}`);
      return;
    }
    if (Date.now() - started > TIMEOUT_MS) {
      throw new BatonError('DEADLINE_EXCEEDED', `the update of service ${ref} did not finish in ${TIMEOUT_MS / 1000}s (${status.message ?? ''}); see baton service ps ${ref}`);
    }
    await sleep(POLL_MS);
  }
}
