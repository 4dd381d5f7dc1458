// The update (or rollback) policy in effect, with Swarm's defaults filled in: zero values in
// the proto mean "default" (parallelism 0 = every task at once, monitor 0 = 5 s).
import { baton } from '../../../proto/gen/baton.js';
import type { DeepReadonly, Stored } from '../../store/index.js';
import { DEFAULT_UPDATE_MONITOR_MS as DEFAULT_MONITOR_MS } from '../../../spec/index.js';

const U = baton.UpdateState;

export interface Policy {
  /** Tasks replaced per batch; Infinity for all at once. */
  parallelism: number;
  delayMs: number;
  failureAction: baton.UpdateFailureAction;
  monitorMs: number;
  maxFailureRatio: number;
  startFirst: boolean;
}

export function policyOf(c: DeepReadonly<baton.UpdateConfig.$Properties> | null | undefined): Policy {
  const parallelism = Number(c?.parallelism ?? 0);
  const monitor = Number(c?.monitorMs ?? 0);
  return {
    parallelism: parallelism > 0 ? parallelism : Infinity,
    delayMs: Math.max(0, Number(c?.delayMs ?? 0)),
    failureAction: c?.failureAction ?? baton.UpdateFailureAction.FAILURE_PAUSE,
    monitorMs: monitor > 0 ? monitor : DEFAULT_MONITOR_MS,
    maxFailureRatio: Math.max(0, Number(c?.maxFailureRatio ?? 0)),
    startFirst: c?.order === baton.UpdateOrder.START_FIRST,
  };
}

/**
 * How long the old task of a start-first replacement (update, rollback or rebalance) stays out
 * of the routing mesh, still running, before it is stopped: the new table reaches every node's
 * mesh and the requests it was serving end, so no request through the mesh meets a task being
 * stopped.
 */
export const MESH_DRAIN_MS = 2_000;

/** A rolling update or rollback is under way (not paused, not finished). */
export function isRolling(s: Stored<'service'>): boolean {
  const state = s.updateStatus?.state ?? U.UPDATE_NONE;
  return state === U.UPDATING || state === U.ROLLBACK_STARTED;
}

export function isRollingBack(s: Stored<'service'>): boolean {
  return s.updateStatus?.state === U.ROLLBACK_STARTED;
}

/**
 * The policy that drives the current rolling: the spec's update config, or for a rollback the
 * rollback config of the spec being rolled back (now previous_spec), so that the --rollback-*
 * flags given with a failing update govern its automatic rollback.
 */
export function activePolicy(s: Stored<'service'>): Policy {
  if (isRollingBack(s)) return policyOf(s.previousSpec?.rollback ?? s.spec?.rollback);
  const policy = policyOf(s.spec?.update);
  if (!isRebalancing(s)) return policy;
  // A rebalance always starts the new task before it stops the old one (no moment with a task
  // fewer), and has no spec to roll back to: a failure pauses it, the old task still running.
  const failureAction = policy.failureAction === baton.UpdateFailureAction.FAILURE_ROLLBACK ? baton.UpdateFailureAction.FAILURE_PAUSE : policy.failureAction;
  return { ...policy, startFirst: true, failureAction };
}

/** The rolling moves tasks to even the spread (a rebalance), rather than changing their spec. */
export function isRebalancing(s: Stored<'service'>): boolean {
  return s.updateStatus?.rebalance === true;
}
