// Task states as Docker prints them: `running`, `pending`, `rejected`...
import { baton } from '../client/index.js';
export { taskStateName } from '../spec/index.js';

const HEALTH_NAMES: Partial<Record<baton.HealthState, string>> = {
  [baton.HealthState.HEALTH_STARTING]: 'starting',
  [baton.HealthState.HEALTH_HEALTHY]: 'healthy',
  [baton.HealthState.HEALTH_UNHEALTHY]: 'unhealthy',
};

/** Docker's "Running 5 seconds ago (healthy)": the health of a running task with a check, else ''. */
export function healthSuffix(status: baton.TaskStatus.$Properties | null | undefined): string {
  if (status?.state !== baton.TaskState.TASK_RUNNING) return '';
  const name = HEALTH_NAMES[status.health ?? baton.HealthState.HEALTH_NONE];
  return name ? ` (${name})` : '';
}

/** Running, and healthy if it has a health check: what `service create` waits for, as Docker does. */
export function runningAndHealthy(status: baton.TaskStatus.$Properties | null | undefined): boolean {
  const health = status?.health ?? baton.HealthState.HEALTH_NONE;
  return status?.state === baton.TaskState.TASK_RUNNING && (health === baton.HealthState.HEALTH_NONE || health === baton.HealthState.HEALTH_HEALTHY);
}
