// One pass of the rolling updater over one service, a function of the store alone (plus when
// the updater saw each new task come up), so a new leader resumes an update where the old one
// left it: the tasks still on an old spec are what is left to do, the service's update_status
// says in which phase, since when, and why.
//
// A slot (replicated) or node (global) holding a live task of an old spec is replaced,
// `parallelism` slots per batch, the next batch `delay` after the last new task came up:
//   - stop-first: the old task is told to stop, labelled; the orchestrator refills the slot
//     once it has stopped (../instance.ts), with a task of the current spec;
//   - start-first: a task of the current spec is created beside the old one; once the new one
//     is up (running, and not still starting its health checks) the old one leaves the routing
//     mesh and is stopped MESH_DRAIN_MS later.
// A new task that fails (ends on its own, or turns unhealthy) within `monitor` of coming up
// counts as a failure; beyond max_failure_ratio of the slots the failure action applies:
// pause, continue, or roll back (spec <- previous_spec, rolled by the rollback config). The
// update completes when no old task is left and every new one has passed its monitor window.
import { baton } from '../../../proto/gen/baton.js';
import { cloneObject, type DeepReadonly, type Stored } from '../../store/index.js';
import { isAvailable } from '../../scheduler/filters.js';
import { EXITED_LABEL } from '../restart.js';
import { isFinished, isWanted, newTask, specVersionOf, stateOf } from '../../reconcile/tasks.js';
import { keepFirst, nodeIsDown, stopTask } from '../instance.js';
import type { TaskWrites } from '../../reconcile/writes.js';
import { MESH_DRAIN_MS, activePolicy, isRebalancing, isRolling, isRollingBack, type Policy } from './config.js';
import { REBALANCE_TO_LABEL, REPLACED_BY_LABEL, UPDATE_STOP_LABEL, isUpToDate, mustReplace } from '../../reconcile/fresh.js';
import { MESH_DRAIN_LABEL } from '../../store/index.js';
import { rolledBack } from './start.js';
import { updatePlacementInPlace } from './in-place.js';
import { byTaskId } from '../slot-view.js';

const S = baton.TaskState;
const U = baton.UpdateState;
const H = baton.HealthState;
const A = baton.UpdateFailureAction;

export interface UpdateContext {
  service: Stored<'service'>;
  /** The service's tasks; planUpdate takes them in any order. */
  tasks: readonly Stored<'task'>[];
  writes: TaskWrites;
  now: number;
  node(id: string): Stored<'node'> | undefined;
  /** When the task came up (first seen running and past its health check's start), if known. */
  upAt(t: Stored<'task'>): number | undefined;
  /** The endpoint (allocated ports) for a spec the service returns to; throws if it cannot be had. */
  endpointFor(spec: DeepReadonly<baton.ServiceSpec.$Properties>): baton.Endpoint.$Properties;
}

export interface UpdateStep {
  /** The service to write (a status change, a rollback), if it changes. */
  service?: baton.Service;
  /** When to look again (a delay or a monitor window ending) if no store change comes first. */
  wakeAt?: number;
}

/** Up: running, and neither starting its health checks nor unhealthy. */
export function isUp(t: DeepReadonly<baton.Task.$Properties>): boolean {
  const health = t.status?.health ?? H.HEALTH_NONE;
  return stateOf(t) === S.TASK_RUNNING && health !== H.HEALTH_STARTING && health !== H.HEALTH_UNHEALTHY;
}

function isLive(t: Stored<'task'>): boolean {
  return isWanted(t) && !isFinished(stateOf(t));
}

function timestampOf(t: Stored<'task'>, fallback: number): number {
  return Number(t.status?.timestamp ?? 0) || fallback;
}

interface Slot {
  slot: number;
  /** Global: the node; replicated: ''. */
  nodeId: string;
  /** The best live task of the current spec. */
  current?: Stored<'task'>;
  /** The best live task of an older spec. */
  old?: Stored<'task'>;
  /** A stop-first update is waiting for its old task to stop. */
  stopping: boolean;
  /** Some task of the slot, in whatever state, has the current spec. */
  anyCurrent: boolean;
  /** A task of the current spec made by this update ended here on its own: not tried again. */
  attempted: boolean;
}

/** Ended by itself (the restart supervisor's label, or not yet seen by it), not stopped by us. */
function endedOnItsOwn(t: Stored<'task'>): boolean {
  return isFinished(stateOf(t)) && (isWanted(t) || t.annotations?.labels?.[EXITED_LABEL] !== undefined);
}

/** A task of the current spec made since the update (or rollback, or rebalance) started. */
function isOurs(ctx: UpdateContext, t: Stored<'task'>): boolean {
  return Number(t.meta.createdAt ?? 0) >= Number(ctx.service.updateStatus?.startedAt ?? 0) && !mustReplace(ctx.service, t);
}

/** The service's slots (replicated) or nodes (global) as the orchestrator keeps them. */
function slotsOf(ctx: UpdateContext): Slot[] {
  const { service } = ctx;
  const global = service.spec?.global === true;
  const replicas = Number(service.spec?.replicas ?? 0);
  const groups = new Map<string, { slot: number; nodeId: string; tasks: Stored<'task'>[] }>();
  for (const t of ctx.tasks) {
    if (global ? t.slot !== 0 || t.nodeId === '' : t.slot < 1 || t.slot > replicas) continue;
    const key = global ? t.nodeId : String(t.slot);
    const g = groups.get(key) ?? { slot: t.slot, nodeId: global ? t.nodeId : '', tasks: [] };
    g.tasks.push(t);
    groups.set(key, g);
  }
  const slots: Slot[] = [];
  for (const g of groups.values()) {
    const live = g.tasks.filter(isLive).sort(keepFirst);
    const stopping = g.tasks.some(
      (t) => !isWanted(t) && !isFinished(stateOf(t)) && t.annotations?.labels?.[UPDATE_STOP_LABEL] !== undefined && t.nodeId !== '' && !nodeIsDown(ctx.node(t.nodeId)),
    );
    const attempted = g.tasks.some((t) => endedOnItsOwn(t) && isOurs(ctx, t));
    const slot: Slot = { slot: g.slot, nodeId: g.nodeId, stopping, attempted, anyCurrent: g.tasks.some((t) => isUpToDate(service, t)) };
    const current = live.find((t) => !mustReplace(service, t));
    const old = live.find((t) => mustReplace(service, t));
    if (current) slot.current = current;
    if (old) slot.old = old;
    slots.push(slot);
  }
  return slots.sort((a, b) => a.slot - b.slot || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** Whether an old task may be replaced now (a global service starts nothing on an unavailable node). */
function replaceable(ctx: UpdateContext, s: Slot): boolean {
  if (s.old === undefined || s.current !== undefined || s.stopping || s.attempted) return false;
  if (s.nodeId === '') return true;
  const node = ctx.node(s.nodeId);
  return node !== undefined && isAvailable(node);
}

/** Why a task of this update failed within its monitor window, if it did. */
function failureOf(ctx: UpdateContext, t: Stored<'task'>, policy: Policy): string | undefined {
  const state = stateOf(t);
  let reason: string;
  if (isFinished(state)) {
    // Stopped by us, or its node went away: not the new spec's fault.
    if (state === S.TASK_ORPHANED || !endedOnItsOwn(t)) return undefined;
    reason = t.status?.err || t.status?.message || 'ended';
  } else if (state === S.TASK_RUNNING && t.status?.health === H.HEALTH_UNHEALTHY) {
    reason = `unhealthy${t.status.message ? ` (${t.status.message})` : ''}`;
  } else return undefined;
  const up = ctx.upAt(t);
  // Never seen up (or up while no leader watched): it failed on the way up, or we cannot tell.
  if (up !== undefined && timestampOf(t, ctx.now) - up > policy.monitorMs) return undefined;
  return reason;
}

function withStatus(ctx: UpdateContext, status: baton.UpdateStatus.$Properties): baton.Service {
  const copy = cloneObject('service', ctx.service);
  copy.meta = { ...copy.meta, updatedAt: ctx.now };
  // Only the status changes: tasks made from this spec stay current for the restart policy.
  copy.specVersion = specVersionOf(ctx.service);
  copy.updateStatus = status;
  return copy;
}

/** The failure action, once failures exceed the ratio. */
function onFailure(ctx: UpdateContext, policy: Policy, task: Stored<'task'>, reason: string): UpdateStep | undefined {
  const rollingBack = isRollingBack(ctx.service);
  const rebalance = isRebalancing(ctx.service);
  const startedAt = Number(ctx.service.updateStatus?.startedAt ?? 0);
  const action = rollingBack && policy.failureAction === A.FAILURE_ROLLBACK ? A.FAILURE_PAUSE : policy.failureAction;
  if (action === A.FAILURE_CONTINUE) return undefined;
  const pause = (why: string): UpdateStep => ({
    service: withStatus(ctx, {
      state: rollingBack ? U.ROLLBACK_PAUSED : U.UPDATE_PAUSED,
      startedAt,
      message: `${rollingBack ? 'rollback' : rebalance ? 'rebalance' : 'update'} paused due to failure or early termination of task ${task.meta.id}: ${reason}${why}`,
      rebalance,
    }),
  });
  if (action === A.FAILURE_PAUSE) return pause('');
  const previous = ctx.service.previousSpec;
  if (!previous) return pause(' (no previous spec to roll back to)');
  let endpoint: baton.Endpoint.$Properties;
  try {
    endpoint = ctx.endpointFor(previous);
  } catch (err) {
    return pause(` (cannot roll back: ${(err as Error).message})`);
  }
  return { service: rolledBack(ctx.service, endpoint, ctx.now, `update rolled back: task ${task.meta.id} failed: ${reason}`) };
}

/** Replaces the old task of slot `s` with one of the current spec, in the policy's order. */
function replace(ctx: UpdateContext, s: Slot, old: Stored<'task'>, policy: Policy): void {
  if (policy.startFirst) {
    const fresh = newTask({ service: ctx.service, slot: s.slot, nodeId: s.nodeId || movedTo(ctx, old), labels: {}, now: ctx.now });
    ctx.writes.create(fresh);
    // Written with the version it was read at: if the old task changed meanwhile (it failed,
    // the orchestrator acted), the batch fails and the next pass decides again.
    ctx.writes.update(old, (c) => {
      c.annotations = { ...c.annotations, labels: { ...c.annotations?.labels, [REPLACED_BY_LABEL]: fresh.meta?.id ?? '' } };
    });
  } else if (old.nodeId === '') {
    stopTask(ctx.writes, old);
  } else {
    ctx.writes.update(old, (c) => {
      c.desiredState = S.TASK_SHUTDOWN;
      c.annotations = { ...c.annotations, labels: { ...c.annotations?.labels, [UPDATE_STOP_LABEL]: String(ctx.now) } };
    });
  }
}

/**
 * The node a rebalance chose for the replacement of `old`, while it can still take new tasks;
 * '' (the scheduler places it) when it cannot, or when `old` is not moving.
 */
function movedTo(ctx: UpdateContext, old: Stored<'task'>): string {
  const to = old.annotations?.labels?.[REBALANCE_TO_LABEL] ?? '';
  const node = to === '' ? undefined : ctx.node(to);
  return node !== undefined && isAvailable(node) ? to : '';
}

/**
 * "rebalance: moved 2 tasks to node-3, 1 task to node-4": where the replacements of this
 * rebalance's moving tasks (each names its replacement) run.
 */
function rebalanceDone(ctx: UpdateContext): string {
  const byId = new Map(ctx.tasks.map((t) => [t.meta.id, t]));
  const perNode = new Map<string, number>();
  for (const t of ctx.tasks) {
    const labels = t.annotations?.labels;
    if (labels?.[REBALANCE_TO_LABEL] === undefined) continue;
    const fresh = byId.get(labels[REPLACED_BY_LABEL] ?? '');
    // Made by this rebalance (an earlier one's moved tasks keep their labels).
    if (fresh === undefined || Number(fresh.meta.createdAt ?? 0) < Number(ctx.service.updateStatus?.startedAt ?? 0)) continue;
    if (isLive(fresh) && fresh.nodeId !== '') perNode.set(fresh.nodeId, (perNode.get(fresh.nodeId) ?? 0) + 1);
  }
  if (perNode.size === 0) return 'rebalance: moved no task';
  const parts = [...perNode].map(([id, n]) => `${n} task${n === 1 ? '' : 's'} to ${ctx.node(id)?.description?.hostname || id}`);
  return `rebalance: moved ${parts.join(', ')}`;
}

/**
 * The old task of a start-first replacement (an update's, a rollback's, a rebalance's move)
 * whose replacement is up leaves the routing mesh first and is stopped MESH_DRAIN_MS later, as
 * Swarm takes a task out of its load balancer before stopping it: no request through the mesh
 * meets a task being stopped. Returns when the stop is due, or undefined when it may stop now.
 */
function drainedAt(ctx: UpdateContext, old: Stored<'task'>): number | undefined {
  const since = Number(old.annotations?.labels?.[MESH_DRAIN_LABEL] ?? NaN);
  if (Number.isNaN(since)) {
    ctx.writes.update(old, (c) => {
      c.annotations = { ...c.annotations, labels: { ...c.annotations?.labels, [MESH_DRAIN_LABEL]: String(ctx.now) } };
    });
    return ctx.now + MESH_DRAIN_MS;
  }
  return ctx.now < since + MESH_DRAIN_MS ? since + MESH_DRAIN_MS : undefined;
}

/** The service's next step; `given.tasks` are its tasks in any order. */
export function planUpdate(given: UpdateContext): UpdateStep {
  // At rest (not rolling, no live task of an older spec or moving): nothing below can act, as
  // it acts only on slots holding such a task. A new leader finds most services so, and its
  // first pass need not sort and group each one's 10,000 tasks into slots to learn it.
  if (!isRolling(given.service) && !given.tasks.some((t) => isLive(t) && mustReplace(given.service, t))) return {};
  // In id order: ties (a slot's equally advanced tasks, failures at the same moment, the
  // rebalance's report) break as they always have.
  const ctx: UpdateContext = { ...given, tasks: [...given.tasks].sort(byTaskId) };
  const slots = slotsOf(ctx);
  // A start-first switch ends once the new task is up, whatever the update's state.
  let drainWake: number | undefined;
  for (const s of slots) {
    if (s.current !== undefined && s.old !== undefined && isUp(s.current)) {
      const due = drainedAt(ctx, s.old);
      if (due !== undefined) {
        drainWake = Math.min(drainWake ?? due, due);
        continue;
      }
      stopTask(ctx.writes, s.old);
      delete s.old;
    }
  }
  const step = planSlots(ctx, slots);
  if (drainWake !== undefined) step.wakeAt = Math.min(step.wakeAt ?? drainWake, drainWake);
  return step;
}

function planSlots(ctx: UpdateContext, slots: Slot[]): UpdateStep {
  const { service, now } = ctx;
  const dirty = slots.filter((s) => replaceable(ctx, s));
  const state = service.updateStatus?.state ?? U.UPDATE_NONE;
  if (!isRolling(service)) {
    // Old tasks and no update ever started (a spec written by other means than the control
    // API's update): start one. After an update ended (completed with tasks it could not
    // replace, or paused) only the user starts the next, or it would retry for ever.
    if (dirty.length > 0 && state === U.UPDATE_NONE) {
      return { service: withStatus(ctx, { state: U.UPDATING, startedAt: now, message: 'update in progress' }) };
    }
    return {};
  }

  // Tasks that only have to accept a new placement are rewritten first; the next pass (their
  // writes wake it) sees them current and replaces only the tasks that no longer fit.
  if (updatePlacementInPlace(ctx) > 0) return {};

  const policy = activePolicy(service);
  const rollingBack = isRollingBack(service);
  const startedAt = Number(service.updateStatus?.startedAt ?? 0);
  // The tasks this update (or rollback) made: of the current spec, created since it started.
  const ours = ctx.tasks.filter((t) => isOurs(ctx, t));

  const failures: { task: Stored<'task'>; reason: string }[] = [];
  for (const t of ours) {
    const reason = failureOf(ctx, t, policy);
    if (reason !== undefined) failures.push({ task: t, reason });
  }
  if (failures.length > 0 && failures.length / Math.max(1, slots.length) > policy.maxFailureRatio) {
    failures.sort((a, b) => timestampOf(a.task, now) - timestampOf(b.task, now));
    const step = onFailure(ctx, policy, failures[0]!.task, failures[0]!.reason);
    if (step !== undefined) return step;
  }

  // Slots still on their way: the next batch waits for them.
  let inFlight = 0;
  for (const s of slots) {
    if (s.stopping || s.old !== undefined) {
      if (s.current !== undefined || s.stopping) inFlight++;
    } else if (s.current !== undefined) {
      if (!isUp(s.current)) inFlight++;
    } else if (!s.anyCurrent) {
      // Empty, only old tasks stopped: the orchestrator refills it at once. (Empty after a
      // task of this spec ended is the restart policy's business, counted as a failure.)
      inFlight++;
    }
  }
  let lastUp: number | undefined;
  let monitorEnd: number | undefined;
  for (const t of ours) {
    if (isLive(t) && isUp(t)) {
      const up = ctx.upAt(t) ?? timestampOf(t, now);
      lastUp = Math.max(lastUp ?? up, up);
      monitorEnd = Math.max(monitorEnd ?? 0, up + policy.monitorMs);
    } else if (endedOnItsOwn(t)) {
      const ended = timestampOf(t, now);
      lastUp = Math.max(lastUp ?? ended, ended);
    }
  }

  if (dirty.length > 0) {
    if (inFlight > 0) return {};
    const next = lastUp === undefined ? 0 : lastUp + policy.delayMs;
    if (now < next) return { wakeAt: next };
    for (const s of dirty.slice(0, policy.parallelism)) replace(ctx, s, s.old!, policy);
    return {};
  }
  if (inFlight > 0) return {};
  if (monitorEnd !== undefined && now < monitorEnd) return { wakeAt: monitorEnd };
  return {
    service: withStatus(ctx, {
      state: rollingBack ? U.ROLLBACK_COMPLETED : U.UPDATE_COMPLETED,
      startedAt,
      completedAt: now,
      // A rollback keeps saying why it happened.
      message: rollingBack ? (service.updateStatus?.message ?? 'rollback completed') : isRebalancing(service) ? rebalanceDone(ctx) : 'update completed',
      rebalance: isRebalancing(service),
    }),
  };
}
