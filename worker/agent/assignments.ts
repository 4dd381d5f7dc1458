// How a session message's task compares with what the agent holds: only the desired state is
// the agent's to act on (a task's spec never changes; its status is the agent's own), and the
// desired state only moves forward (running → shutdown → remove), so a stale or repeated
// message changes nothing.
import { baton } from '../../proto/gen/baton.js';

/** The assignment to keep instead of `held`, or undefined when nothing the agent acts on changed. */
export function mergeAssignment(held: baton.Task.$Properties, incoming: baton.Task.$Properties): baton.Task.$Properties | undefined {
  if ((incoming.meta?.version ?? 0) < (held.meta?.version ?? 0)) return undefined;
  const was = held.desiredState ?? baton.TaskState.TASK_NEW;
  const desired = Math.max(was, incoming.desiredState ?? baton.TaskState.TASK_NEW) as baton.TaskState;
  if (desired === was) return undefined;
  return assignmentOf({ ...incoming, desiredState: desired });
}

/** The assignment part of a task: everything but the status, which the agent keeps apart. */
export function assignmentOf(task: baton.Task.$Properties): baton.Task.$Properties {
  const { status: _status, ...assignment } = task;
  return assignment;
}

export function removal(held: baton.Task.$Properties): baton.Task.$Properties | undefined {
  if (held.desiredState === baton.TaskState.TASK_REMOVE) return undefined;
  return { ...held, desiredState: baton.TaskState.TASK_REMOVE };
}
