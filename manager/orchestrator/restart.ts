// The restart supervisor's rules (Swarm's restart policy), as pure functions of stored tasks so
// that a new leader reaches the same decisions as the old one:
//
// - A wanted task that reaches a final state on its own is marked desired SHUTDOWN and labelled
//   `baton.exited=<ms it ended>`; that label is what tells "ended by itself, the policy decides"
//   apart from "stopped by us" (scale-down, drain), whose slot is refilled at once.
// - Whether and when its slot gets a replacement follows from that task alone: its spec's
//   policy, its final state and exit code, its end time, and `baton.restarts`, the end times of
//   the slot's earlier restarts that still count (carried from task to task, so history
//   retention deleting old tasks does not reset the count).
import { baton } from '../../proto/gen/baton.js';
import { stateOf, type TaskView } from '../reconcile/tasks.js';
import { DEFAULT_RESTART_DELAY_MS } from '../../spec/index.js';

export const EXITED_LABEL = 'baton.exited';
export const RESTARTS_LABEL = 'baton.restarts';
export { DEFAULT_RESTART_DELAY_MS };

const C = baton.RestartCondition;
const S = baton.TaskState;

export interface Policy {
  condition: baton.RestartCondition;
  delayMs: number;
  /** 0: unlimited */
  maxAttempts: number;
  /** 0: attempts count forever */
  windowMs: number;
}

/** delay_ms 0 (unset in proto3) means the 5 s default; use 1 for "at once". */
export function policyOf(t: TaskView): Policy {
  const r = t.spec?.restart;
  return {
    condition: r?.condition ?? C.RESTART_ANY,
    delayMs: Number(r?.delayMs ?? 0) > 0 ? Number(r?.delayMs) : DEFAULT_RESTART_DELAY_MS,
    maxAttempts: Math.max(0, Number(r?.maxAttempts ?? 0)),
    windowMs: Math.max(0, Number(r?.windowMs ?? 0)),
  };
}

/** What on-failure restarts: an error state, or any exit with a non-zero code. */
export function endedInFailure(t: TaskView): boolean {
  const state = stateOf(t);
  return state === S.TASK_FAILED || state === S.TASK_REJECTED || state === S.TASK_ORPHANED || (t.status?.exitCode ?? 0) !== 0;
}

/** When the task ended on its own, if the supervisor has seen it end (the exited label). */
export function exitedAt(t: TaskView): number | undefined {
  const v = t.annotations?.labels?.[EXITED_LABEL];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** End times of the slot's earlier restarts carried by `t`. */
export function restartHistory(t: TaskView | undefined): number[] {
  const v = t?.annotations?.labels?.[RESTARTS_LABEL] ?? '';
  return v === '' ? [] : v.split(',').map(Number).filter(Number.isFinite);
}

export function historyLabels(history: readonly number[]): Record<string, string> {
  return history.length === 0 ? {} : { [RESTARTS_LABEL]: history.join(',') };
}

export type RestartDecision =
  | { restart: true; at: number; history: number[] }
  | { restart: false; exhausted: boolean; reason: string };

/** The fate of the slot of `t`, a task that ended on its own at `endedAt`. */
export function decideRestart(t: TaskView, endedAt: number): RestartDecision {
  const p = policyOf(t);
  if (p.condition === C.RESTART_NONE) return { restart: false, exhausted: false, reason: 'not restarted: the restart condition is none' };
  if (p.condition === C.RESTART_ON_FAILURE && !endedInFailure(t)) {
    return { restart: false, exhausted: false, reason: 'not restarted: it succeeded and the restart condition is on-failure' };
  }
  if (p.maxAttempts === 0) return { restart: true, at: endedAt + p.delayMs, history: [] };
  const counted = restartHistory(t).filter((at) => p.windowMs === 0 || at > endedAt - p.windowMs);
  if (counted.length >= p.maxAttempts) {
    const within = p.windowMs === 0 ? '' : ` within ${p.windowMs / 1000}s`;
    return { restart: false, exhausted: true, reason: `not restarted: restart attempts exhausted (${counted.length} of max ${p.maxAttempts}${within})` };
  }
  return { restart: true, at: endedAt + p.delayMs, history: [...counted, endedAt].slice(-p.maxAttempts) };
}

/**
 * Marks a wanted task that reached a final state: desired SHUTDOWN (a job's task done: COMPLETE), the exited label with the
 * time it ended (its reported time, but never later than now), and the reason in its status
 * message when its slot stays empty.
 */
export function markExited(copy: baton.Task, now: number, job = false): void {
  const reported = Number(copy.status?.timestamp ?? 0);
  const endedAt = reported > 0 ? Math.min(reported, now) : now;
  // A job's task that did its work is wanted no further, as Swarm says it: desired Complete.
  copy.desiredState = job && copy.status?.state === S.TASK_COMPLETE && !endedInFailure(copy) ? S.TASK_COMPLETE : S.TASK_SHUTDOWN;
  copy.annotations = { ...copy.annotations, labels: { ...copy.annotations?.labels, [EXITED_LABEL]: String(endedAt) } };
  // Only exhaustion is spelled out: an ended run under condition none or on-failure keeps the
  // worker's own message, which says more (exit code, error).
  const decision = decideRestart(copy, endedAt);
  if (!decision.restart && decision.exhausted) copy.status = { ...copy.status, message: decision.reason };
}
