// Swarm's task states as the agent uses them: ordered (a task only moves forward), and final
// once terminal, so a status the manager has seen is never contradicted by a later one.
import { baton } from '../../proto/gen/baton.js';

export const S = baton.TaskState;
export type TaskState = baton.TaskState;

/** Terminal for the agent: nothing more happens to the task but its removal. */
export function isTerminal(state: TaskState): boolean {
  return state >= S.TASK_COMPLETE && state <= S.TASK_REJECTED;
}

/**
 * Whether `next` may follow `last`: forward only, never out of a terminal state. ORPHANED is
 * the managers' verdict on a lost node, never one the agent reports.
 */
export function mayFollow(last: TaskState, next: TaskState): boolean {
  if (next === S.TASK_ORPHANED || next === S.TASK_REMOVE) return false;
  if (isTerminal(last)) return false;
  return next > last;
}

export function stateName(state: TaskState): string {
  return (S[state] ?? String(state)).replace(/^TASK_/, '');
}

/** The desired state an assignment asks for, folded to what the agent acts on. */
export type Intent = 'hold' | 'run' | 'shutdown' | 'remove';

export function intentOf(desired: TaskState): Intent {
  if (desired === S.TASK_REMOVE) return 'remove';
  if (desired > S.TASK_RUNNING) return 'shutdown';
  if (desired === S.TASK_RUNNING) return 'run';
  return 'hold';
}
