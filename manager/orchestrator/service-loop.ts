// What both orchestrators share: a set of dirty service ids (or "all"), a pass that reconciles
// each, removes the tasks of deleted services (each orchestrator those of its own mode:
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

export abstract class ServiceLoop extends ReconcileLoop {
  private readonly dirty = new Set<string>();
  private all = false;

  protected constructor(host: OrchestratorHost, name: string, opts: LoopOptions) {
    super(host, name, opts);
  }

  /** Whether this orchestrator runs services of this kind. */
  protected abstract owns(service: Stored<'service'>): boolean;
  /** Whether a task of a deleted service is this orchestrator's to remove. */
  protected abstract ownsTask(task: Stored<'task'>): boolean;
  /** Reconciles one of its services; returns when a delayed restart is due, if any. */
  protected abstract reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[]): number | undefined;

  protected markAll(): void {
    this.all = true;
  }

  protected markService(id: string): void {
    this.dirty.add(id);
  }

  protected override onWake(serviceId: string): void {
    this.dirty.add(serviceId);
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    const ids = this.all ? this.everyServiceId() : [...this.dirty];
    this.all = false;
    this.dirty.clear();
    const now = this.host.now();
    const writes = new TaskWrites(now);
    const node = (id: string): Stored<'node'> | undefined => store.get('node', id);
    const budget = { left: this.maxBatch, exhausted: false };
    for (const id of ids) {
      const service = store.get('service', id);
      const tasks = store.list('task', { serviceIds: [id] });
      if (service === undefined) {
        this.clearWake(id);
        removeTasks(writes, tasks.filter((t) => this.ownsTask(t)), node);
      } else if (this.owns(service)) {
        this.clearWake(id);
        const wake = this.reconcileService({ service, writes, now, node, budget }, tasks);
        if (wake !== undefined) this.wakeAt(id, wake);
        // Cut short by the creation budget (or reached after it ran out): the next pass goes on.
        if (budget.exhausted) this.markService(id);
      }
    }
    if (writes.size > 0) this.logger.debug({ services: ids.length, writes: writes.size, more: budget.exhausted }, 'orchestration pass');
    // While this pass runs, kick() queues the next one, to start once its writes are applied.
    if (budget.exhausted) this.kick();
    return writes.actions();
  }

  /** Every service, and every service id tasks still name (deleted services leave tasks). */
  private everyServiceId(): string[] {
    const ids = new Set(this.host.store.list('service').map((s) => s.meta.id));
    for (const t of this.host.store.list('task')) ids.add(t.serviceId);
    return [...ids];
  }
}
