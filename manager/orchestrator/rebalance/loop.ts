// The automatic rebalancer (leader only, a ReconcileLoop like the orchestrators): when a node
// becomes available for new tasks (it joins, comes back Ready, or is activated after a drain),
// every service with `--rebalance auto` is due for a rebalance. A due service that is being
// updated, or whose tasks are still on their way (placed but not yet running, say the ones the
// drain moved), waits: its task and service changes bring it back until its picture is
// settled, then it is planned once (./plan.ts) and, if anything moves, started (./start.ts).
// The due set is the only state beyond the store; a new leader starts with none, as a node
// that became available under the old leader has already had its turn or its tasks were placed
// by the scheduler meanwhile.
import { baton } from '../../../proto/gen/baton.js';
import type { StoreActionT, StoreChange, Stored } from '../../store/index.js';
import type { LoopOptions, OrchestratorHost } from '../../reconcile/host.js';
import { ReconcileLoop } from '../../reconcile/loop.js';
import { isAvailable } from '../../scheduler/filters.js';
import { isRolling } from '../update/config.js';
import { planRebalance } from './plan.js';
import { startRebalance } from './start.js';

const U = baton.UpdateState;

export function isRebalanceAuto(s: Stored<'service'> | undefined): boolean {
  return s?.spec?.rebalance === baton.RebalanceMode.REBALANCE_AUTO;
}

/**
 * Rebalances one node event may start for a service: the second and third pick up what the
 * first could not (a destination gone meanwhile, its replacement placed elsewhere); past that
 * the service waits for the next event rather than moving tasks round.
 */
const MAX_ATTEMPTS = 3;

export class Rebalancer extends ReconcileLoop {
  /** Service id -> rebalances started for it since it became due. */
  private readonly due = new Map<string, number>();

  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'rebalancer', opts);
  }

  override stop(): void {
    super.stop();
    this.due.clear();
  }

  /** On start and after a failed write: the due services are looked at again. */
  protected markAll(): void {}

  protected onChange(c: StoreChange): boolean {
    switch (c.kind) {
      case 'node': {
        const now = c.action !== 'delete' && isAvailable(c.object);
        const before = c.old !== undefined && isAvailable(c.old);
        if (!now || before) return false;
        for (const s of this.host.store.list('service')) if (isRebalanceAuto(s) && !this.due.has(s.meta.id)) this.due.set(s.meta.id, 0);
        return this.due.size > 0;
      }
      case 'service':
        if (c.action === 'delete') this.due.delete(c.object.meta.id);
        return this.due.has(c.object.meta.id);
      case 'task':
        return this.due.has(c.object.serviceId);
      default:
        return false;
    }
  }

  protected reconcile(): StoreActionT[] {
    const store = this.host.store;
    const actions: StoreActionT[] = [];
    // Nothing due (the usual case, and a new leader's first pass): no need to read every task.
    if (this.due.size === 0) return actions;
    const nodes = store.list('node');
    const tasks = store.list('task');
    const node = (id: string): Stored<'node'> | undefined => store.get('node', id);
    for (const [id, attempts] of [...this.due]) {
      const service = store.get('service', id);
      const state = service?.updateStatus?.state;
      // A paused update or rebalance waits for the user: starting again would repeat its failure.
      if (service === undefined || !isRebalanceAuto(service) || state === U.UPDATE_PAUSED || state === U.ROLLBACK_PAUSED || attempts >= MAX_ATTEMPTS) {
        this.due.delete(id);
        continue;
      }
      if (isRolling(service)) continue;
      const plan = planRebalance(service, nodes, tasks);
      if (plan.blocked === 'in-flux') continue;
      // Kept due while moves were written: should the write fail, the next pass plans again;
      // once the rebalance has run, that pass finds nothing to move.
      if (plan.moves.length === 0) {
        this.due.delete(id);
        continue;
      }
      this.due.set(id, attempts + 1);
      this.logger.info({ service: id, moves: plan.moves.map((m) => ({ task: m.task.meta.id, from: m.from, to: m.to })) }, 'rebalance');
      actions.push(...startRebalance(service, plan.moves, store.list('task', { serviceIds: [id] }), node, this.host.now()));
    }
    return actions;
  }
}
