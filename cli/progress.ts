// Progress of a service until it converges, like `docker service create`: one line per slot,
// redrawn in a terminal, and the reason when it cannot converge (instead of hanging forever).
import { baton, BatonError, type BatonClient } from '../src/client/index.js';
import { healthSuffix, runningAndHealthy, taskStateName } from './task-state.js';

const TIMEOUT_MS = Number(process.env.BATON_CONVERGE_TIMEOUT_MS ?? 120_000);


export async function waitForConvergence(client: BatonClient, ref: string, quiet: boolean): Promise<void> {
  const started = Date.now();
  const tty = process.stdout.isTTY && !quiet;
  let lastReport = '';
  let lines = 0;
  for (;;) {
    const svc = await client.control.call('GetService', { id: ref });
    const tasks = ((await client.control.call('ListTasks', { filters: { serviceId: svc.meta?.id ?? ref } })).tasks ?? []).filter(
      (t) => t.desiredState === baton.TaskState.TASK_RUNNING,
    );
    const want = svc.spec?.global ? tasks.length : Number(svc.spec?.replicas ?? 0);
    // As Docker: a task with a health check counts once it is healthy, not merely running.
    const running = tasks.filter((t) => runningAndHealthy(t.status)).length;
    const stuck = tasks.find((t) => (t.status?.state === baton.TaskState.TASK_PENDING && t.status.message && t.status.message !== 'pending task scheduling') || t.status?.err);
    const reason = stuck ? (stuck.status?.err || stuck.status?.message || '') : '';
    if (!quiet) {
      const slots = tasks
        .slice()
        .sort((a, b) => Number(a.slot ?? 0) - Number(b.slot ?? 0))
        .map((t) => `${t.annotations?.name ?? t.meta?.id}: ${taskStateName(t.status?.state)}${healthSuffix(t.status)}${t.status?.err ? ` (${t.status.err})` : ''}`);
      const report = [`overall progress: ${running} out of ${want} tasks`, ...slots].join('\n');
      if (tty) {
        if (lines > 0) process.stdout.write(`\x1b[${lines}A\x1b[J`);
        process.stdout.write(`${report}\n`);
        lines = report.split('\n').length;
      } else if (report !== lastReport) {
        process.stdout.write(`${report.split('\n')[0]}\n`);
      }
      lastReport = report;
    }
    if (running === want && tasks.length === want) {
      if (!quiet) process.stdout.write('verify: Service converged\n');
      return;
    }
    if (Date.now() - started > TIMEOUT_MS) {
      throw new BatonError('DEADLINE_EXCEEDED', `service ${ref} did not converge in ${TIMEOUT_MS / 1000}s${reason ? `: ${reason}` : ''}; see baton service ps ${ref}`);
    }
    if (reason && !quiet && !tty && Date.now() - started > 3000) process.stdout.write(`waiting: ${reason}\n`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
