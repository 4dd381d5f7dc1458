// What both orchestrators share: a set of dirty service ids (or "all"), each with the slots that
// changed when only some did (the replicated orchestrator's tasks), a pass that reconciles each
// (those slots alone when known), removes the tasks of deleted services (each orchestrator those of its own mode:
// replicated tasks have a slot, global ones slot 0), and wakes a service when a delayed
// restart is due.
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
 * Tasks one pass looks at, about (a service is reconciled whole, so a pass may go past it by one
 * service). A leader that gains office makes a full pass: at 100,000 tasks, done in one go, it
 * held the event loop for seconds, longer than Raft's election timeout, and lost its office.
 */
export const MAX_TASKS_PER_PASS = 20_000;

export abstract class ServiceLoop extends ReconcileLoop {
  /**
   * Services to look at: null for every instance of the service, else only these slots. At
   * 100,000 tasks each task reports Preparing, Starting and Running; a pass over all 10,000 slots
   * of its service for each of those is what per-slot marks avoid.
   */
  private readonly dirty = new Map<string, Set<number> | null>();
  private all = false;
  private readonly maxTasksPerPass: number;

  protected constructor(host: OrchestratorHost, name: string, opts: LoopOptions) {
    super(host, name, opts);
    this.maxTasksPerPass = Math.max(1, opts.maxTasksPerPass ?? MAX_TASKS_PER_PASS);
  }

  /** Whether this orchestrator runs services of this kind. */
  protected abstract owns(service: Stored<'service'>): boolean;
  /** Whether a task of a deleted service is this orchestrator's to remove. */
  protected abstract ownsTask(task: Stored<'task'>): boolean;
  /** Reconciles one of its services; returns when a delayed restart is due, if any. */
  protected abstract reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[], slots: ReadonlySet<number> | null): number | undefined;

  protected markAll(): void {
    this.all = true;
  }

  protected markService(id: string): void {
    this.dirty.set(id, null);
  }

  /** Only `slot` of the service changed (one of its tasks): unless the whole service is marked, a pass looks at that slot. */
  protected markSlot(id: string, slot: number): void {
    const slots = this.dirty.get(id);
    if (slots === null) return;
    if (slots === undefined) this.dirty.set(id, new Set([slot]));
    else slots.add(slot);
  }

  protected override onWake(serviceId: string): void {
    this.markService(serviceId);
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    const marked: [string, ReadonlySet<number> | null][] = this.all ? this.everyServiceId().map((id) => [id, null]) : [...this.dirty];
    this.all = false;
    this.dirty.clear();
    const now = this.host.now();
    const writes = new TaskWrites(now);
    const node = (id: string): Stored<'node'> | undefined => store.get('node', id);
    const budget = { left: this.maxBatch, exhausted: false };
    let examined = 0;
    for (const [i, [id, slots]] of marked.entries()) {
      // A pass is synchronous: bounded, so that the event loop (Raft's ticks and messages,
      // heartbeats, sessions) runs between passes; the services left go to the next pass.
      if (examined >= this.maxTasksPerPass) {
        for (const [rest, restSlots] of marked.slice(i)) {
          if (restSlots === null) this.markService(rest);
          else for (const slot of restSlots) this.markSlot(rest, slot);
        }
        budget.exhausted = true;
        break;
      }
      const service = store.get('service', id);
      const tasks = this.tasksOf(id);
      examined += tasks.length;
      if (service === undefined) {
        this.clearWake(id);
        removeTasks(writes, tasks.filter((t) => this.ownsTask(t)), node);
      } else if (this.owns(service)) {
        // A pass over some slots knows nothing of the others' delayed restarts: it keeps theirs.
        if (slots === null) this.clearWake(id);
        const wake = this.reconcileService({ service, writes, now, node, budget }, tasks, slots);
        if (wake !== undefined) {
          if (slots === null) this.wakeAt(id, wake);
          else this.wakeBy(id, wake);
        }
        // Cut short by the creation budget (or reached after it ran out): the next pass goes on.
        if (budget.exhausted) this.markService(id);
      }
    }
    this.stats.mostTasksRead = Math.max(this.stats.mostTasksRead, examined);
    if (writes.size > 0) this.logger.debug({ services: marked.length, writes: writes.size, more: budget.exhausted }, 'orchestration pass');
    // While this pass runs, kick() queues the next one, to start once its writes are applied.
    if (budget.exhausted) this.kick();
    return writes.actions();
  }

  /** A service's tasks for a pass, in id order (an orchestrator that groups them may do without the order). */
  protected tasksOf(serviceId: string): Stored<'task'>[] {
    return this.host.store.list('task', { serviceIds: [serviceId] });
  }

  /** Every service, and every service id tasks still name (deleted services leave tasks). */
  private everyServiceId(): string[] {
    const ids = new Set(this.host.store.list('service').map((s) => s.meta.id));
    for (const t of this.host.store.scan('task')) ids.add(t.serviceId);
    return [...ids];
  }
}
