// How `service update` and `service rollback` change a service, shared by the control API and
// the tests: the spec being replaced is kept as previous_spec, and update_status says that a
// rolling update (or rollback) has begun, from which moment the updater counts its tasks.
import { baton } from '../../../proto/gen/baton.js';
import { cloneObject, isFinished, type DeepReadonly, type Stored } from '../../store/index.js';
import { isUpToDate } from '../../reconcile/fresh.js';
import { isJobSpec, nextJobStatus } from '../job/status.js';

const U = baton.UpdateState;

/** The service with `spec` in force. Live tasks that do not match it start a rolling update. */
export function withNewSpec(
  current: Stored<'service'>,
  spec: DeepReadonly<baton.ServiceSpec.$Properties>,
  endpoint: baton.Endpoint.$Properties,
  tasks: readonly Stored<'task'>[],
  now: number,
): baton.Service {
  const next = cloneObject('service', current);
  next.meta = { ...next.meta, updatedAt: now };
  next.previousSpec = cloneObject('service', current).spec;
  next.spec = cloneObject('service', { meta: { id: '' }, spec }).spec;
  next.endpoint = endpoint;
  next.specVersion = 0;
  // A job is not rolled: every write of its spec starts its next iteration.
  if (isJobSpec(next.spec)) return asNextIteration(next, now);
  const live = tasks.filter((t) => t.desiredState <= baton.TaskState.TASK_RUNNING && !isFinished(t.status?.state ?? 0));
  // A change that leaves every task as it is (replicas, labels) starts no update; any other
  // one does, and so does updating a paused service again (that is how it is resumed).
  if (live.some((t) => !isUpToDate(next, t))) next.updateStatus = { state: U.UPDATING, startedAt: now, message: 'update in progress' };
  return next;
}

/** The service rolled back to its previous spec (which becomes the one to roll back to next). */
export function rolledBack(current: Stored<'service'>, endpoint: baton.Endpoint.$Properties, now: number, message = 'manually requested rollback'): baton.Service {
  const next = cloneObject('service', current);
  next.meta = { ...next.meta, updatedAt: now };
  next.spec = cloneObject('service', current).previousSpec;
  next.previousSpec = cloneObject('service', current).spec;
  next.endpoint = endpoint;
  next.specVersion = 0;
  if (isJobSpec(next.spec)) return asNextIteration(next, now);
  next.updateStatus = { state: U.ROLLBACK_STARTED, startedAt: now, message };
  return next;
}

/** A job service whose new spec runs as its next iteration. */
function asNextIteration(next: baton.Service, now: number): baton.Service {
  next.jobStatus = nextJobStatus(next.jobStatus, now);
  return next;
}
