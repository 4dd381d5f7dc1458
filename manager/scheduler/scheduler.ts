// The scheduler loop (leader only): places tasks that wait for a node (no node, status PENDING,
// desired RUNNING) with scheduleTasks, writing every decision of a pass in one proposal.
// A task that fits nowhere stays PENDING with a message saying why; the message is rewritten
// only when it changes, so an unschedulable task costs no writes while nothing changes.
// Any node or task change may make room (a label added, a task finished), so both re-run it.
// What each node holds is kept from the store's changes (./loads.ts), not counted from every
// task per pass; it is rebuilt from the store when the loop starts and after a reset or a
// failed write, so it holds nothing the store does not.
import { baton } from '../../proto/gen/baton.js';
import type { StoreActionT, StoreChange, Stored } from '../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import { ReconcileLoop } from '../reconcile/loop.js';
import { newestFirst } from '../reconcile/tasks.js';
import { TaskWrites } from '../reconcile/writes.js';
import { NodeLoads } from './loads.js';
import { placeTasks } from './schedule.js';

const S = baton.TaskState;

function waitsForNode(t: Stored<'task'>): boolean {
  return t.nodeId === '' && t.status?.state === S.TASK_PENDING && t.desiredState === S.TASK_RUNNING;
}

export class Scheduler extends ReconcileLoop {
  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'scheduler', opts);
  }

  /** Every node's load as of the store's last change; undefined: to be counted from the store. */
  private loads: NodeLoads | undefined;

  // Every pass looks at every pending task: there is no per-object work to remember, only the
  // loads to count again.
  protected markAll(): void {
    this.loads = undefined;
  }

  override stop(): void {
    super.stop();
    // A manager that is no longer the leader does not keep the loads (nor their memory).
    this.loads = undefined;
  }

  protected onChange(change: StoreChange): boolean {
    if (change.kind !== 'node' && change.kind !== 'task') return false;
    this.loads?.apply(change);
    return true;
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    // Unassigned tasks are indexed under node '': no full scan while nothing waits.
    const pending = store.scan('task', { nodeIds: [''] }).filter(waitsForNode);
    if (pending.length === 0) return [];
    // Oldest first, so a task that has waited longest gets the first pick (ids break ties: a
    // total order, so the unsorted scan gives the same order a sorted list did).
    pending.sort((a, b) => newestFirst(b, a) || (a.meta.id < b.meta.id ? -1 : 1));
    // Every task only counts toward its node's load: scanned, not sorted.
    const loads = (this.loads ??= NodeLoads.from(store.scan('node'), store.scan('task')));
    const decisions = placeTasks(loads.nodes(), pending);
    const now = this.host.now();
    const writes = new TaskWrites(now);
    // One decision per pending task, in the same order.
    decisions.forEach((d, i) => {
      const task = pending[i]!;
      if (d.nodeId !== undefined) {
        // The pass counted this placement on the node's load; the store's change counts it
        // again once the write is applied (or never, if it fails): take it back now.
        loads.get(d.nodeId)?.remove(task);
        writes.update(task, (copy) => {
          copy.nodeId = d.nodeId;
          copy.status = { ...copy.status, state: S.TASK_ASSIGNED, message: 'assigned to node', timestamp: now };
        });
      } else if (task.status?.message !== d.message) {
        writes.update(task, (copy) => {
          copy.status = { ...copy.status, message: d.message, timestamp: now };
        });
      }
    });
    if (writes.size > 0) this.logger.debug({ decisions: decisions.length, writes: writes.size }, 'scheduling pass');
    return writes.actions();
  }
}
