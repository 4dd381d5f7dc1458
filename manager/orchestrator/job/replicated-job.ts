// A replicated job (`--mode replicated-job`): slots 1..total_completions, each run until one of
// its tasks of the current iteration completes (exit 0); at most max_concurrent slots are in
// progress at once, and the next slot starts when one is done. A slot's task that fails is
// retried in the same slot as the restart policy says (./instance.ts); one the policy gives up
// on leaves its slot failed, which no longer counts against max_concurrent, and the job then
// never reaches its total (as Docker's). A completed task is never run again in its iteration,
// whatever the restart condition.
import type { Stored } from '../../store/index.js';
import { isFinished, isWanted, latest, stateOf } from '../../reconcile/tasks.js';
import { reconcileInstance, type PassContext, type Want } from '../instance.js';
import { decideRestart, exitedAt } from '../restart.js';
import { MAX_REPLICAS } from '../../../spec/index.js';
import { completedOk, iterationOf } from './status.js';
import { splitByIteration } from './iteration-split.js';

/** Where a slot of the current iteration stands. */
type SlotState = 'done' | 'active' | 'failed' | 'unstarted';

export function slotState(current: readonly Stored<'task'>[]): SlotState {
  if (current.length === 0) return 'unstarted';
  if (current.some(completedOk)) return 'done';
  if (current.some((t) => isWanted(t) && !isFinished(stateOf(t)))) return 'active';
  const last = latest(current)!;
  const ended = exitedAt(last);
  // Not yet seen ended by the supervisor (this pass marks it): still counts as in progress.
  if (ended === undefined) return 'active';
  return decideRestart(last, ended).restart ? 'active' : 'failed';
}

export function reconcileReplicatedJob(ctx: PassContext, tasks: readonly Stored<'task'>[]): number | undefined {
  const job = ctx.service.spec?.replicatedJob;
  const total = Math.min(Number(job?.totalCompletions ?? 0), MAX_REPLICAS);
  // 0 (unset): as many at once as there are completions to make (Docker's default).
  const maxConcurrent = Number(job?.maxConcurrent ?? 0) || total;
  const jobIteration = iterationOf(ctx.service.jobStatus);
  const { kept, current } = splitByIteration(ctx, tasks);
  const bySlot = new Map<number, Stored<'task'>[]>();
  for (const t of kept) bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t]);
  const currentBySlot = new Map<number, Stored<'task'>[]>();
  for (const t of current) currentBySlot.set(t.slot, [...(currentBySlot.get(t.slot) ?? []), t]);

  let wake: number | undefined;
  const visit = (slot: number, want: Want): void => {
    const due = reconcileInstance(ctx, { tasks: bySlot.get(slot) ?? [], want, slot, nodeId: '', jobIteration });
    if (due !== undefined) wake = Math.min(wake ?? due, due);
  };
  // Slots outside 1..total (a scale-down, a task of another mode) are stopped.
  for (const slot of bySlot.keys()) if (slot < 1 || slot > total) visit(slot, 'stop');
  let inProgress = 0;
  const wants = new Map<number, Want>();
  const unstarted: number[] = [];
  for (let slot = 1; slot <= total; slot++) {
    const state = slotState(currentBySlot.get(slot) ?? []);
    if (state === 'unstarted') unstarted.push(slot);
    else if (state === 'active') inProgress++;
    wants.set(slot, state === 'active' ? 'run' : 'keep');
  }
  // The next slots, in order, while fewer than max_concurrent are in progress.
  for (const slot of unstarted) {
    if (inProgress >= maxConcurrent) break;
    inProgress++;
    wants.set(slot, 'run');
  }
  for (const [slot, want] of wants) {
    // An unstarted slot that starts nothing is visited only for an earlier iteration's history.
    if (want === 'keep' && !bySlot.has(slot)) continue;
    visit(slot, want);
  }
  return wake;
}
