// What the orchestrators share: a set of dirty service ids (or "all"), each with what of it
// changed (the whole service, the slots whose tasks changed, or every slot from one on: a pass
// cut short goes on from there), a pass that reconciles each, removes the tasks of deleted
// services (each orchestrator those of its own mode: replicated tasks have a slot, global ones
// slot 0), and wakes a service when a delayed restart is due. A pass is bounded in tasks read
// and in time (the loop's slice): what it leaves stays marked for the next pass. The rolling
// updater (./update/updater.ts) is one of these too, a whole-service loop that removes nothing.
import type { StoreActionT, Stored } from '../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import type { PassContext } from './instance.js';
import { ReconcileLoop } from '../reconcile/loop.js';
import { removeTasks } from './removed.js';
import { TaskWrites } from '../reconcile/writes.js';

export function isGlobal(s: Stored<'service'> | undefined): boolean {
  return s?.spec?.global === true;
}

/** A job (`--mode replicated-job|global-job`): the job orchestrator's (./job.ts), no one else's. */
export function isJob(s: Stored<'service'> | undefined): boolean {
  return !!s?.spec?.replicatedJob || !!s?.spec?.globalJob;
}

/** Replicated mode proper: neither global nor a job. */
export function isReplicated(s: Stored<'service'> | undefined): boolean {
  return s !== undefined && !isGlobal(s) && !isJob(s);
}

/**
 * Tasks one pass looks at, about (the global and job orchestrators reconcile a service whole,
 * so their pass may go past it by one service). A leader that gains office makes a full pass:
 * at 100,000 tasks, done in one go, it held the event loop for seconds, longer than Raft's
 * election timeout, and lost its office.
 */
export const MAX_TASKS_PER_PASS = 20_000;

/** What of a service a pass must look at. */
export interface Marks {
  /** Every instance from this slot on: -Infinity for the whole service, Infinity for none. */
  from: number;
  /** Slots below `from` whose tasks changed. */
  slots: Set<number>;
}

/** The whole service: a pass over it replaces its delayed restarts. */
export function isWhole(m: Marks): boolean {
  return m.from === -Infinity;
}

export abstract class ServiceLoop extends ReconcileLoop {
  /**
   * Services to look at. At 100,000 tasks each task reports Preparing, Starting and Running; a
   * pass over all 10,000 slots of its service for each of those is what per-slot marks avoid.
   */
  private dirty = new Map<string, Marks>();
  private all = false;
  private readonly maxTasksPerPass: number;
  /** Tasks (and empty slots) the running pass has looked at. */
  private examined = 0;

  protected constructor(host: OrchestratorHost, name: string, opts: LoopOptions) {
    super(host, name, opts);
    this.maxTasksPerPass = Math.max(1, opts.maxTasksPerPass ?? MAX_TASKS_PER_PASS);
  }

  /** Whether this orchestrator runs services of this kind. */
  protected abstract owns(service: Stored<'service'>): boolean;
  /** Whether a task of a deleted service is this orchestrator's to remove. */
  protected abstract ownsTask(task: Stored<'task'>): boolean;
  /**
   * Reconciles what `marks` says of one of its services, and marks again what it leaves; false
   * when the pass is full (the caller stops).
   */
  protected abstract reconcileMarks(ctx: PassContext, marks: Marks): boolean;

  protected markAll(): void {
    this.all = true;
  }

  private marksOf(id: string): Marks {
    let m = this.dirty.get(id);
    if (m === undefined) this.dirty.set(id, (m = { from: Infinity, slots: new Set() }));
    return m;
  }

  protected markService(id: string): void {
    const m = this.marksOf(id);
    m.from = -Infinity;
    m.slots.clear();
  }

  /** Only `slot` of the service changed (one of its tasks): unless a pass looks at it anyway, it looks at that slot. */
  protected markSlot(id: string, slot: number): void {
    const m = this.marksOf(id);
    if (slot < m.from) m.slots.add(slot);
  }

  /** Every slot of the service from `slot` on (a pass cut short there goes on). */
  protected markFrom(id: string, slot: number): void {
    const m = this.marksOf(id);
    if (slot >= m.from) return;
    m.from = slot;
    for (const s of m.slots) if (s >= slot) m.slots.delete(s);
  }

  protected override onWake(serviceId: string): void {
    this.markService(serviceId);
  }

  /**
   * True once the running pass has done its share (tasks looked at, or time): the caller marks
   * what it leaves and stops. Never before the pass has looked at something, so each pass moves on.
   */
  protected passFull(): boolean {
    return this.examined > 0 && (this.examined >= this.maxTasksPerPass || this.sliceOver());
  }

  /** Counts what the pass looked at: `tasks` tasks (an empty slot counts as one). */
  protected looked(tasks: number): void {
    this.examined += Math.max(1, tasks);
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    let marked: [string, Marks][];
    if (this.all) {
      marked = this.everyServiceId().map((id) => [id, { from: -Infinity, slots: new Set() }]);
      // A whole pass replaces any slot or resume marks.
      this.dirty.clear();
    } else {
      marked = [...this.dirty];
      this.dirty = new Map();
    }
    this.all = false;
    this.examined = 0;
    const now = this.host.now();
    const writes = new TaskWrites(now);
    const node = (id: string): Stored<'node'> | undefined => store.get('node', id);
    const budget = { left: this.maxBatch, exhausted: false };
    let i = 0;
    for (; i < marked.length; i++) {
      const [id, marks] = marked[i]!;
      const service = store.get('service', id);
      if (service === undefined) {
        // A synchronous pass is bounded, so that the event loop (Raft's ticks and messages,
        // heartbeats, sessions) runs between passes; the services left go to the next pass.
        if (this.passFull()) break;
        this.reconcileDeleted(id, writes, node);
      } else if (this.owns(service)) {
        if (!this.reconcileMarks({ service, writes, now, node, budget }, marks)) {
          i++;
          break;
        }
      }
    }
    // What the pass did not reach keeps its marks, behind what it re-marked itself (a service
    // cut short goes on first, then the others in their order).
    for (const [id, marks] of marked.slice(i)) this.remark(id, marks);
    this.stats.mostTasksRead = Math.max(this.stats.mostTasksRead, this.examined);
    if (writes.size > 0) this.logger.debug({ services: marked.length, writes: writes.size, more: this.dirty.size > 0 }, 'orchestration pass');
    // While this pass runs, kick() queues the next one, to start once its writes are applied.
    if (this.dirty.size > 0) this.kick();
    return writes.actions();
  }

  /** A service deleted (its id still marked, or named by tasks): its tasks of this orchestrator's mode are removed. */
  protected reconcileDeleted(id: string, writes: TaskWrites, node: (id: string) => Stored<'node'> | undefined): void {
    const tasks = this.tasksOf(id).filter((t) => this.ownsTask(t));
    this.looked(tasks.length);
    this.clearWake(id);
    removeTasks(writes, tasks, node);
  }

  /** Marks again what `marks` said (a pass that did not look at it). */
  protected remark(id: string, marks: Marks): void {
    if (isWhole(marks)) this.markService(id);
    else {
      if (marks.from !== Infinity) this.markFrom(id, marks.from);
      for (const slot of marks.slots) this.markSlot(id, slot);
    }
  }

  /** A service's tasks for a pass, in id order (an orchestrator that groups them may do without the order). */
  protected tasksOf(serviceId: string): Stored<'task'>[] {
    return this.host.store.list('task', { serviceIds: [serviceId] });
  }

  /** Every service, and every service id tasks still name (deleted services leave tasks). */
  protected everyServiceId(): string[] {
    const ids = new Set(this.host.store.list('service').map((s) => s.meta.id));
    for (const t of this.host.store.scan('task')) ids.add(t.serviceId);
    return [...ids];
  }
}

/** An orchestrator that reconciles a service whole whatever changed of it (global services, jobs). */
export abstract class WholeServiceLoop extends ServiceLoop {
  /** Reconciles one of its services whole; returns when a delayed restart is due, if any. */
  protected abstract reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[]): number | undefined;

  protected reconcileMarks(ctx: PassContext, marks: Marks): boolean {
    if (this.passFull()) {
      this.remark(ctx.service.meta.id, marks);
      return false;
    }
    const id = ctx.service.meta.id;
    const tasks = this.tasksOf(id);
    this.looked(tasks.length);
    this.clearWake(id);
    const wake = this.reconcileService(ctx, tasks);
    if (wake !== undefined) this.wakeAt(id, wake);
    // Cut short by the creation budget (or reached after it ran out): the next pass goes on.
    if (ctx.budget.exhausted) this.markService(id);
    return true;
  }
}
