// The rolling updater (`service update`), a leader-only loop like the orchestrators, and driven
// as they are (../service-loop.ts): store changes mark services, a pass plans each whole
// (./plan.ts), bounded in tasks read and in time (the loop's slice), and the services it does
// not reach stay marked for the next pass, after a turn of the event loop. A new leader's first
// pass looks at every service: at 30,000 tasks, done in one go, it held the event loop for most
// of a second. Its writes go out in one proposal (split beyond maxBatch), service writes first.
// What it keeps beyond the store is when it saw each new task come up (for the monitor window)
// and timers for delays and monitor windows; a new leader rebuilds both from the store.
import type { StoreActionT, StoreChange, Stored } from '../../store/index.js';
import { updateAction } from '../../store/index.js';
import { allocateEndpoint } from '../../allocator/ports.js';
import type { LoopOptions, OrchestratorHost } from '../../reconcile/host.js';
import type { PassContext } from '../instance.js';
import { isRolling } from './config.js';
import { isUp, planUpdate } from './plan.js';
import { WholeServiceLoop, isJob } from '../service-loop.js';

export class Updater extends WholeServiceLoop {
  /** Task id -> when it was first seen up. */
  private readonly upSince = new Map<string, number>();
  /** The running pass's service writes (status changes, rollbacks). */
  private serviceWrites: StoreActionT[] = [];

  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'updater', opts);
  }

  override stop(): void {
    super.stop();
    this.upSince.clear();
  }

  /** A job has no rolling update: a new spec starts its next iteration (../job/). */
  protected owns(service: Stored<'service'>): boolean {
    return !isJob(service);
  }

  /** The orchestrators remove a deleted service's tasks, not the updater. */
  protected ownsTask(): boolean {
    return false;
  }

  protected override reconcileDeleted(id: string): void {
    this.clearWake(id);
  }

  /** Services only: tasks of deleted services are none of the updater's business. */
  protected override everyServiceId(): string[] {
    return this.host.store.list('service').map((s) => s.meta.id);
  }

  /** Unsorted: most services are at rest, and planUpdate sorts those it has to plan. */
  protected override tasksOf(serviceId: string): Stored<'task'>[] {
    return this.host.store.scan('task', { serviceIds: [serviceId] });
  }

  protected onChange(c: StoreChange): boolean {
    switch (c.kind) {
      case 'service':
        this.markService(c.object.meta.id);
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
        this.markService(t.serviceId);
        return true;
      }
      default:
        return false;
    }
  }

  protected override reconcile(): StoreActionT[] {
    this.serviceWrites = [];
    const tasks = super.reconcile();
    const services = this.serviceWrites;
    this.serviceWrites = [];
    return [...services, ...tasks];
  }

  protected reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[]): number | undefined {
    const store = this.host.store;
    const id = ctx.service.meta.id;
    const step = planUpdate({
      service: ctx.service,
      tasks,
      writes: ctx.writes,
      now: ctx.now,
      node: (n) => ctx.node(n),
      upAt: (t) => this.upAt(t, ctx.now),
      endpointFor: (spec) => allocateEndpoint(store, spec, id),
    });
    if (step.service !== undefined) {
      this.serviceWrites.push(updateAction('service', step.service));
      this.logger.info({ service: id, state: step.service.updateStatus?.state, message: step.service.updateStatus?.message }, 'update status');
    }
    return step.wakeAt;
  }

  /** When `t` came up, as seen by this leader (or its status says, for a task up before it took office). */
  private upAt(t: Stored<'task'>, now: number): number | undefined {
    let at = this.upSince.get(t.meta.id);
    if (at === undefined && isUp(t)) {
      at = Number(t.status?.timestamp ?? 0) || now;
      this.upSince.set(t.meta.id, at);
    }
    return at;
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
