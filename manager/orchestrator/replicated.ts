// The replicated orchestrator (Swarm's replicated mode): a service with `replicas: N` has slots
// 1..N, each kept filled by one wanted task; slots above N (a scale-down) are stopped. New
// tasks wait unassigned (PENDING) for the scheduler. Per-slot rules live in ./instance.ts.
import type { StoreChange, Stored } from '../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import { reconcileInstance, type Instance, type PassContext } from './instance.js';
import { ServiceLoop, isReplicated } from './service-loop.js';
import { MAX_REPLICAS } from '../../spec/index.js';

function byTaskId(a: Stored<'task'>, b: Stored<'task'>): number {
  return a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0;
}

export class ReplicatedOrchestrator extends ServiceLoop {
  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'replicated-orchestrator', opts);
  }

  protected owns(service: Stored<'service'>): boolean {
    return isReplicated(service);
  }

  protected ownsTask(task: Stored<'task'>): boolean {
    return task.slot > 0;
  }

  protected onChange(c: StoreChange): boolean {
    const store = this.host.store;
    switch (c.kind) {
      case 'service':
        if (c.action !== 'delete' && !isReplicated(c.object) && (c.old === undefined || !isReplicated(c.old))) return false;
        this.markService(c.object.meta.id);
        return true;
      case 'task': {
        const service = store.get('service', c.object.serviceId);
        if (service !== undefined && !isReplicated(service)) return false;
        // A task's slot never changes: its change concerns that slot alone.
        this.markSlot(c.object.serviceId, c.object.slot);
        return true;
      }
      case 'node': {
        // A node going down, drained or removed concerns the tasks on it, nothing else.
        const before = c.old;
        const changed =
          c.action === 'delete' ||
          (before !== undefined && (before.status?.state !== c.object.status?.state || before.spec?.availability !== c.object.spec?.availability));
        if (!changed) return false;
        for (const t of store.scan('task', { nodeIds: [c.object.meta.id] })) this.markSlot(t.serviceId, t.slot);
        return true;
      }
      default:
        return false;
    }
  }

  /**
   * Unsorted: a pass groups them by slot and orders each slot's few tasks itself, instead of
   * sorting a 10,000-task service on every pass (any of its tasks' changes starts one).
   */
  protected override tasksOf(serviceId: string): Stored<'task'>[] {
    return this.host.store.scan('task', { serviceIds: [serviceId] });
  }

  /**
   * Slots in order: those with tasks, and the empty ones up to `replicas` while the pass's
   * creation budget lasts (the rest wait for the next pass). The work is bounded by the tasks
   * that exist plus the budget, never by the replica count itself. With `slots`, only those.
   */
  protected reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[], slots: ReadonlySet<number> | null): number | undefined {
    const replicas = this.replicasOf(ctx.service);
    const bySlot = new Map<number, Stored<'task'>[]>();
    // Slot 0 holds tasks of another mode (a global task cannot be a replica): stopped.
    for (const t of tasks) {
      if (slots !== null && !slots.has(t.slot)) continue;
      const list = bySlot.get(t.slot);
      if (list === undefined) bySlot.set(t.slot, [t]);
      else list.push(t);
    }
    // Each slot's tasks in id order, as a sorted list would give them (ties in later sorts keep it).
    for (const list of bySlot.values()) if (list.length > 1) list.sort(byTaskId);
    let wake: number | undefined;
    const visit = (slot: number, slotTasks: readonly Stored<'task'>[]): void => {
      const inst: Instance = { tasks: slotTasks, want: slot >= 1 && slot <= replicas ? 'run' : 'stop', slot, nodeId: '' };
      this.stats.instancesVisited++;
      const due = reconcileInstance(ctx, inst);
      if (due !== undefined) wake = Math.min(wake ?? due, due);
    };
    if (slots !== null) {
      // The slots that changed, emptied ones included (a deleted task leaves its slot to refill).
      for (const slot of [...slots].sort((a, b) => a - b)) {
        const slotTasks = bySlot.get(slot) ?? [];
        if (slotTasks.length === 0 && slot >= 1 && slot <= replicas && ctx.budget.left <= 0) {
          // Out of creations: the loop marks the whole service for the next pass.
          ctx.budget.exhausted = true;
          continue;
        }
        visit(slot, slotTasks);
      }
      return wake;
    }
    let next = 1;
    const fillUpTo = (last: number): void => {
      for (; next <= Math.min(last, replicas); next++) {
        if (bySlot.has(next)) continue;
        if (ctx.budget.left <= 0) {
          ctx.budget.exhausted = true;
          next = Infinity;
          return;
        }
        visit(next, []);
      }
    };
    for (const slot of [...bySlot.keys()].sort((a, b) => a - b)) {
      fillUpTo(slot - 1);
      visit(slot, bySlot.get(slot)!);
      next = Math.max(next, slot + 1);
    }
    fillUpTo(replicas);
    return wake;
  }

  /**
   * The replica count, at most MAX_REPLICAS: the control API refuses more, but a store written
   * before that check may hold a huge (wrapped) count, and a leader must not die of it.
   */
  private replicasOf(service: Stored<'service'>): number {
    const replicas = Number(service.spec?.replicas ?? 0);
    if (!(replicas > MAX_REPLICAS)) return replicas;
    this.logger.warn({ service: service.meta.id, replicas, limit: MAX_REPLICAS }, 'replica count above the limit; running the limit');
    return MAX_REPLICAS;
  }
}
