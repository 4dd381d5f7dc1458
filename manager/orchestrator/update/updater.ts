// The rolling updater (`service update`), a leader-only loop like the orchestrators: store changes mark
// services, a pass plans each (./plan.ts) and its writes go out in one proposal. What it keeps
// beyond the store is when it saw each new task come up (for the monitor window) and timers
// for delays and monitor windows; a new leader rebuilds both from the store on its first pass.
import type { StoreActionT, StoreChange, Stored } from '../../store/index.js';
import { updateAction } from '../../store/index.js';
import { allocateEndpoint } from '../../allocator/ports.js';
import type { LoopOptions, OrchestratorHost } from '../../reconcile/host.js';
import { ReconcileLoop } from '../../reconcile/loop.js';
import { TaskWrites } from '../../reconcile/writes.js';
import { isRolling } from './config.js';
import { isUp, planUpdate } from './plan.js';
import { MAX_TASKS_PER_PASS, isJob } from '../service-loop.js';

export class Updater extends ReconcileLoop {
  private readonly dirty = new Set<string>();
  private all = false;
  /** Task id -> when it was first seen up. */
  private readonly upSince = new Map<string, number>();

  private readonly maxTasksPerPass: number;

  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'updater', opts);
    this.maxTasksPerPass = Math.max(1, opts.maxTasksPerPass ?? MAX_TASKS_PER_PASS);
  }

  override stop(): void {
    super.stop();
    this.upSince.clear();
    this.dirty.clear();
  }

  protected markAll(): void {
    this.all = true;
  }

  protected override onWake(serviceId: string): void {
    this.dirty.add(serviceId);
  }

  protected onChange(c: StoreChange): boolean {
    switch (c.kind) {
      case 'service':
        this.dirty.add(c.object.meta.id);
        return true;
      case 'task': {
        const t = c.object;
        if (c.action === 'delete') {
          this.upSince.delete(t.meta.id);
          return false;
        }
        const cameUp = isUp(t) && (c.old === undefined || !isUp(c.old));
        if (cameUp) this.upSince.set(t.meta.id, Number(t.status?.timestamp ?? 0) || this.host.now());
        // A rolling service follows every task; any other only needs a look when a task comes
        // up (it may end a start-first switch left by an earlier update).
        const service = this.host.store.get('service', t.serviceId);
        if (service === undefined || (!isRolling(service) && (!cameUp || !everChanged(service)))) return false;
        this.dirty.add(t.serviceId);
        return true;
      }
      default:
        return false;
    }
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    const ids = this.all ? store.list('service').map((s) => s.meta.id) : [...this.dirty];
    this.all = false;
    this.dirty.clear();
    const now = this.host.now();
    const writes = new TaskWrites(now);
    const services: StoreActionT[] = [];
    const upAt = (t: Stored<'task'>): number | undefined => {
      let at = this.upSince.get(t.meta.id);
      if (at === undefined && isUp(t)) {
        at = Number(t.status?.timestamp ?? 0) || now;
        this.upSince.set(t.meta.id, at);
      }
      return at;
    };
    let examined = 0;
    for (const [i, id] of ids.entries()) {
      // Bounded as the orchestrators' passes (../service-loop.ts): the rest in the next pass.
      if (examined >= this.maxTasksPerPass) {
        for (const rest of ids.slice(i)) this.dirty.add(rest);
        this.kick();
        break;
      }
      const service = store.get('service', id);
      this.clearWake(id);
      // A job has no rolling update: a new spec starts its next iteration (../job/).
      if (service === undefined || isJob(service)) continue;
      const tasks = store.list('task', { serviceIds: [id] });
      examined += tasks.length;
      const step = planUpdate({
        service,
        tasks,
        writes,
        now,
        node: (n) => store.get('node', n),
        upAt,
        endpointFor: (spec) => allocateEndpoint(store, spec, id),
      });
      if (step.service !== undefined) {
        services.push(updateAction('service', step.service));
        this.logger.info({ service: id, state: step.service.updateStatus?.state, message: step.service.updateStatus?.message }, 'update status');
      }
      if (step.wakeAt !== undefined) this.wakeAt(id, step.wakeAt);
    }
    this.stats.mostTasksRead = Math.max(this.stats.mostTasksRead, examined);
    return [...services, ...writes.actions()];
  }
}

/**
 * Whether an update, rollback or rebalance ever started on the service (each leaves an update
 * status, and an update a previous spec). Only those can leave a start-first switch for a task
 * coming up to end; a service never changed has none, and its 10,000 tasks coming up must not
 * each start a pass over all of them.
 */
function everChanged(service: Stored<'service'>): boolean {
  return service.updateStatus != null || service.previousSpec != null;
}
