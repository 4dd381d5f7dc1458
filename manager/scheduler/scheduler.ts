// The scheduler loop (leader only): places tasks that wait for a node (no node, status PENDING,
// desired RUNNING) with scheduleTasks, writing every decision of a pass in one proposal.
// A task that fits nowhere stays PENDING with a message saying why; the message is rewritten
// only when it changes, so an unschedulable task costs no writes while nothing changes.
// Any node or task change may make room (a label added, a task finished), so both re-run it.
import { baton } from '../../proto/gen/baton.js';
import type { StoreActionT, StoreChange, Stored } from '../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import { ReconcileLoop } from '../reconcile/loop.js';
import { newestFirst } from '../reconcile/tasks.js';
import { TaskWrites } from '../reconcile/writes.js';
import { scheduleTasks } from './schedule.js';

const S = baton.TaskState;

function waitsForNode(t: Stored<'task'>): boolean {
  return t.nodeId === '' && t.status?.state === S.TASK_PENDING && t.desiredState === S.TASK_RUNNING;
}

export class Scheduler extends ReconcileLoop {
  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'scheduler', opts);
  }

  // Every pass looks at every pending task: there is no per-object work to remember.
  protected markAll(): void {}

  protected onChange(change: StoreChange): boolean {
    return change.kind === 'node' || change.kind === 'task';
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    // Unassigned tasks are indexed under node '': no full scan while nothing waits.
    const pending = store.list('task', { nodeIds: [''] }).filter(waitsForNode);
    if (pending.length === 0) return [];
    // Oldest first, so a task that has waited longest gets the first pick.
    pending.sort((a, b) => newestFirst(b, a) || (a.meta.id < b.meta.id ? -1 : 1));
    // Every task only counts toward its node's load: scanned, not sorted.
    const decisions = scheduleTasks(store.list('node'), store.scan('task'), pending);
    const now = this.host.now();
    const writes = new TaskWrites(now);
    const byId = new Map(pending.map((t) => [t.meta.id, t]));
    for (const d of decisions) {
      const task = byId.get(d.taskId);
      if (task === undefined) continue;
      if (d.nodeId !== undefined) {
        writes.update(task, (copy) => {
          copy.nodeId = d.nodeId;
          copy.status = { ...copy.status, state: S.TASK_ASSIGNED, message: 'assigned to node', timestamp: now };
        });
      } else if (task.status?.message !== d.message) {
        writes.update(task, (copy) => {
          copy.status = { ...copy.status, message: d.message, timestamp: now };
        });
      }
    }
    if (writes.size > 0) this.logger.debug({ decisions: decisions.length, writes: writes.size }, 'scheduling pass');
    return writes.actions();
  }
}
