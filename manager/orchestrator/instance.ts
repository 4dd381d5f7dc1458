// One instance of a service: a replicated slot, or a global service's node. Both modes share
// these rules; they differ only in which instances exist and what each should do (`want`).
//
// A task of the instance that is still wanted (desired RUNNING) is, in this order:
//   - finished on its own → the restart supervisor marks it (./restart.ts);
//   - on a node that is down or gone → ORPHANED "node down" ("node removed"), desired
//     SHUTDOWN (a task a removed node was still stopping is orphaned too: nobody reports it);
//   - on a drained node → desired SHUTDOWN;
//   - unwanted by the instance (slot above replicas, node no longer eligible) → desired
//     SHUTDOWN, or deleted if it never reached a node;
//   - otherwise live. Extra live tasks (a duplicate) are stopped, keeping the most advanced;
//     "extra" counts per spec: during a start-first rolling update a slot holds one task of
//     the current spec beside one of the old (or one a rebalance moves), which the updater
//     (./update/) stops once the new one is up.
// An instance that should run and has no live task gets a new one, at once or, if its latest
// task ended on its own, when the restart policy says (which may be never); but not while a
// stop-first update is still stopping its old task (the updater's label says so). Finished
// tasks beyond the history limit are deleted, oldest first.
import { baton } from '../../proto/gen/baton.js';
import type { Stored } from '../store/index.js';
import { decideRestart, exitedAt, historyLabels, markExited, restartHistory } from './restart.js';
import { isFinished, isWanted, latest, newTask, newestFirst, specVersionOf, stateOf, type TaskView } from '../reconcile/tasks.js';
import type { TaskWrites } from '../reconcile/writes.js';
import { UPDATE_STOP_LABEL, mustReplace } from '../reconcile/fresh.js';
import { isJobSpec } from './job/status.js';

const S = baton.TaskState;

/** Finished tasks kept per slot (Swarm's task history retention limit). */
export const TASK_HISTORY_LIMIT = 5;

/** run: keep one task running; keep: leave what runs, start nothing; stop: stop everything. */
export type Want = 'run' | 'keep' | 'stop';

export interface PassContext {
  service: Stored<'service'>;
  writes: TaskWrites;
  now: number;
  node(id: string): Stored<'node'> | undefined;
  /** Tasks this pass may still create (shared by every service of the pass). */
  budget: CreateBudget;
}

/**
 * The tasks one pass may create. A service of many replicas (or a store that holds a huge
 * count from before the limits) gets its tasks over several passes, each one bounded
 * proposal, instead of one pass building them all in the leader's memory.
 */
export interface CreateBudget {
  left: number;
  /** Set when a task was due but the budget was spent: another pass must follow. */
  exhausted: boolean;
}

export interface Instance {
  tasks: readonly Stored<'task'>[];
  want: Want;
  /** Replicated: the slot; global: 0. */
  slot: number;
  /** Global: the node; replicated: ''. */
  nodeId: string;
  /** Finished tasks to keep (default TASK_HISTORY_LIMIT). */
  keepFinished?: number;
  /** Jobs: the iteration new tasks are made for. */
  jobIteration?: number;
}

export function nodeIsDown(node: Stored<'node'> | undefined): boolean {
  return node === undefined || node.status?.state === baton.NodeState.NODE_DOWN;
}

/** Stops a task: desired SHUTDOWN on its node, or gone if it never got one. */
export function stopTask(writes: TaskWrites, t: Stored<'task'>): void {
  if (t.nodeId === '') writes.delete(t);
  else
    writes.update(t, (c) => {
      c.desiredState = S.TASK_SHUTDOWN;
    });
}

/** Its node is gone or down: the task ends as ORPHANED (Swarm's state for it). */
function orphan(ctx: PassContext, t: Stored<'task'>, message: string): void {
  ctx.writes.update(t, (c) => {
    c.status = { ...c.status, state: S.TASK_ORPHANED, message, timestamp: ctx.now };
    c.desiredState = S.TASK_SHUTDOWN;
  });
}

/** The most advanced state first, then the newest. */
export function keepFirst(a: TaskView, b: TaskView): number {
  return stateOf(b) - stateOf(a) || newestFirst(a, b);
}

/** Reconciles one instance; returns when it needs another look (a delayed restart), if ever. */
export function reconcileInstance(ctx: PassContext, inst: Instance): number | undefined {
  const live: Stored<'task'>[] = [];
  for (const t of inst.tasks) {
    if (!isWanted(t)) {
      // A removed node never reports again: what it was still stopping ends here.
      if (t.nodeId !== '' && !isFinished(stateOf(t)) && ctx.node(t.nodeId) === undefined) orphan(ctx, t, 'node removed');
      continue;
    }
    if (isFinished(stateOf(t))) {
      ctx.writes.update(t, (c) => markExited(c, ctx.now, isJobSpec(ctx.service.spec)));
      continue;
    }
    if (t.nodeId !== '') {
      const node = ctx.node(t.nodeId);
      if (nodeIsDown(node)) {
        orphan(ctx, t, node === undefined ? 'node removed' : 'node down');
        continue;
      }
      if (node?.spec?.availability === baton.NodeAvailability.DRAIN) {
        stopTask(ctx.writes, t);
        continue;
      }
    }
    if (inst.want === 'stop') stopTask(ctx.writes, t);
    else live.push(t);
  }
  let wake: number | undefined;
  if (inst.want === 'run') {
    // One live task (the common case, each status report of a running service) has no extra:
    // nothing to compare it with.
    if (live.length > 1) {
      // A task a rebalance moves counts as old: its replacement beside it is not a duplicate.
      const current = live.filter((t) => !mustReplace(ctx.service, t)).sort(keepFirst);
      const old = live.filter((t) => mustReplace(ctx.service, t)).sort(keepFirst);
      for (const extra of [...current.slice(1), ...old.slice(1)]) stopTask(ctx.writes, extra);
    }
    if (live.length === 0 && !stoppingForUpdate(ctx, inst)) wake = fill(ctx, inst);
  }
  retain(ctx, inst);
  return wake;
}

/** Reconciles every instance of a pass; returns the earliest time one needs another look, if any. */
export function reconcileInstances(ctx: PassContext, instances: Iterable<Instance>): number | undefined {
  let wake: number | undefined;
  for (const inst of instances) {
    const due = reconcileInstance(ctx, inst);
    if (due !== undefined) wake = Math.min(wake ?? due, due);
  }
  return wake;
}

/** A task a stop-first update told to stop and that its (live) node has not yet stopped. */
function stoppingForUpdate(ctx: PassContext, inst: Instance): boolean {
  return inst.tasks.some((t) => {
    const v = ctx.writes.view(t);
    if (v === undefined || isWanted(v) || isFinished(stateOf(v)) || v.annotations?.labels?.[UPDATE_STOP_LABEL] === undefined) return false;
    return !!v.nodeId && !nodeIsDown(ctx.node(v.nodeId));
  });
}

/** Creates the instance's task if it is due now; returns the due time if it is later. */
function fill(ctx: PassContext, inst: Instance): number | undefined {
  const views: TaskView[] = [];
  for (const t of inst.tasks) {
    const v = ctx.writes.view(t);
    if (v !== undefined) views.push(v);
  }
  const last = latest(views);
  // A service changed since the last task was made (a new spec, a scale) starts afresh, as in
  // Swarm: ended slots are refilled and restart attempts count from zero.
  const current = last !== undefined && Number(last.specVersion ?? 0) === specVersionOf(ctx.service);
  let history = current ? restartHistory(last) : [];
  const ended = current ? exitedAt(last) : undefined;
  if (current && ended !== undefined) {
    const decision = decideRestart(last, ended);
    if (!decision.restart) return undefined;
    if (decision.at > ctx.now) return decision.at;
    history = decision.history;
  }
  if (ctx.budget.left <= 0) {
    ctx.budget.exhausted = true;
    return undefined;
  }
  ctx.budget.left--;
  ctx.writes.create(newTask({ service: ctx.service, slot: inst.slot, nodeId: inst.nodeId, labels: historyLabels(history), now: ctx.now, jobIteration: inst.jobIteration }));
  return undefined;
}

/** Deletes the oldest finished tasks beyond the instance's history limit. */
function retain(ctx: PassContext, inst: Instance): void {
  const finished: { t: Stored<'task'>; v: TaskView }[] = [];
  for (const t of inst.tasks) {
    const v = ctx.writes.view(t);
    if (v !== undefined && !isWanted(v) && isFinished(stateOf(v))) finished.push({ t, v });
  }
  finished.sort((a, b) => newestFirst(a.v, b.v));
  for (const { t } of finished.slice(inst.keepFinished ?? TASK_HISTORY_LIMIT)) ctx.writes.delete(t);
}
