// The replicated orchestrator (Swarm's replicated mode): a service with `replicas: N` has slots
// 1..N, each kept filled by one wanted task; slots above N (a scale-down) are stopped. New
// tasks wait unassigned (PENDING) for the scheduler. Per-slot rules live in ./instance.ts.
import type { StoreChange, Stored } from '../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import { reconcileInstance, type PassContext } from './instance.js';
import { ServiceLoop, isReplicated, isWhole, type Marks } from './service-loop.js';
import { SlotView } from './slot-view.js';
import { MAX_REPLICAS } from '../../spec/index.js';

export class ReplicatedOrchestrator extends ServiceLoop {
  /** The tasks by service and slot, kept from the store's changes while this loop runs. */
  private readonly view: SlotView;

  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'replicated-orchestrator', opts);
    this.view = new SlotView(host.store);
  }

  protected owns(service: Stored<'service'>): boolean {
    return isReplicated(service);
  }

  protected ownsTask(task: Stored<'task'>): boolean {
    return task.slot > 0;
  }

  protected onChange(c: StoreChange): boolean {
    const store = this.host.store;
    // Every task change, whatever its service: the view is the store's tasks, grouped.
    this.view.apply(c);
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

  protected override resync(): void {
    this.view.clear();
  }

  protected override release(): void {
    this.view.clear();
  }

  protected override tasksOf(serviceId: string): Stored<'task'>[] {
    return this.view.tasksOf(serviceId);
  }

  /**
   * The marked slots in order, then every slot from `marks.from` on: those with tasks, and the
   * empty ones up to `replicas` while the pass's creation budget lasts. The work is bounded by
   * the tasks that exist plus the budget, never by the replica count itself. Where the pass is
   * full, or out of creations, the rest stays marked: the next pass goes on from there rather
   * than from the first slot (10,000 replicas made 200 a pass looked at every slot 50 times).
   */
  protected reconcileMarks(ctx: PassContext, marks: Marks): boolean {
    const id = ctx.service.meta.id;
    const replicas = this.replicasOf(ctx.service);
    const read = this.view.read;
    const slots = this.view.slotsOf(id);
    // Made from the store for this pass (the first since the leader took office): that is work too.
    if (this.view.read > read) this.looked(this.view.read - read);
    let wake: number | undefined;
    // A pass over the whole service replaces its delayed restarts; any other keeps the others'.
    if (isWhole(marks)) this.clearWake(id);
    /** Visits one slot; false if it still needs a task that the pass had no budget left for. */
    const visit = (slot: number, tasks: readonly Stored<'task'>[]): boolean => {
      this.looked(tasks.length);
      this.stats.instancesVisited++;
      const before = ctx.budget.exhausted;
      ctx.budget.exhausted = false;
      const due = reconcileInstance(ctx, { tasks, want: slot >= 1 && slot <= replicas ? 'run' : 'stop', slot, nodeId: '' });
      if (due !== undefined) wake = Math.min(wake ?? due, due);
      const denied = ctx.budget.exhausted;
      ctx.budget.exhausted ||= before;
      return !denied;
    };
    const done = (room: boolean): boolean => {
      if (wake !== undefined) this.wakeBy(id, wake);
      return room;
    };
    // The slots that changed, emptied ones included (a deleted task leaves its slot to refill).
    const singles = [...marks.slots].sort((a, b) => a - b);
    for (const [k, slot] of singles.entries()) {
      if (this.passFull()) {
        for (const rest of singles.slice(k)) this.markSlot(id, rest);
        if (marks.from !== Infinity) this.remark(id, { from: marks.from, slots: new Set() });
        return done(false);
      }
      if (!visit(slot, slots.get(slot) ?? [])) this.markSlot(id, slot);
    }
    if (marks.from === Infinity) return done(true);
    // Every slot from `from` on, in order.
    let visited = false;
    /** Leaves the slots from `slot` on to the next pass. */
    const leave = (slot: number): void => {
      if (visited) this.markFrom(id, slot);
      else this.remark(id, { from: marks.from, slots: new Set() });
    };
    const ordered = [...slots.keys()].filter((s) => s >= marks.from).sort((a, b) => a - b);
    let next = Math.max(1, marks.from);
    /** Visits the empty slots up to `last` (at most `replicas`); how it stopped if it did. */
    const fillUpTo = (last: number): 'go' | 'full' | 'budget' => {
      for (; next <= Math.min(last, replicas); next++) {
        if (slots.has(next)) continue;
        if (this.passFull()) {
          leave(next);
          return 'full';
        }
        if (ctx.budget.left <= 0) {
          ctx.budget.exhausted = true;
          leave(next);
          return 'budget';
        }
        visited = true;
        visit(next, []);
      }
      return 'go';
    };
    for (const slot of ordered) {
      const filled = fillUpTo(slot - 1);
      if (filled !== 'go') return done(filled === 'budget');
      if (this.passFull()) {
        leave(slot);
        return done(false);
      }
      visited = true;
      if (!visit(slot, slots.get(slot)!)) {
        this.markFrom(id, slot);
        return done(true);
      }
      next = Math.max(next, slot + 1);
    }
    const filled = fillUpTo(replicas);
    return done(filled !== 'full');
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
