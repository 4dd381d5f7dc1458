// The global orchestrator (Swarm's global mode): one task per eligible node, created already
// assigned to it. Eligible: READY, ACTIVE, the service's runtime offered, its constraints
// satisfied (the scheduler's own filters). A node that is drained or no longer matches stops
// its task; a paused or unreachable (not yet down) node keeps what runs but gets nothing new;
// a node that is down has its task orphaned (./instance.ts); a removed node's tasks are
// orphaned and deleted with their history.
import { baton } from '../../proto/gen/baton.js';
import type { StoreChange, Stored } from '../store/index.js';
import { parseConstraints, type Constraint } from '../scheduler/constraints.js';
import { isAvailable, specFailure } from '../scheduler/filters.js';
import type { LoopOptions, OrchestratorHost } from '../reconcile/host.js';
import { reconcileInstance, type Instance, type PassContext, type Want } from './instance.js';
import { ServiceLoop, isGlobal } from './service-loop.js';

/** What the service wants on `node`; undefined constraints (unparseable) start nothing new. */
export function wantOn(node: Stored<'node'>, runtime: string, constraints: Constraint[] | undefined): Want {
  if (node.spec?.availability === baton.NodeAvailability.DRAIN) return 'stop';
  if (constraints === undefined) return 'keep';
  // A runtime or constraint mismatch is for good; not being available (paused, not ready) is not.
  if (specFailure(node, runtime, constraints) !== undefined) return 'stop';
  return isAvailable(node) ? 'run' : 'keep';
}

export class GlobalOrchestrator extends ServiceLoop {
  constructor(host: OrchestratorHost, opts: LoopOptions = {}) {
    super(host, 'global-orchestrator', opts);
  }

  protected owns(service: Stored<'service'>): boolean {
    return isGlobal(service);
  }

  protected ownsTask(task: Stored<'task'>): boolean {
    return task.slot === 0;
  }

  protected onChange(c: StoreChange): boolean {
    const store = this.host.store;
    switch (c.kind) {
      case 'service':
        if (c.action !== 'delete' && !isGlobal(c.object) && (c.old === undefined || !isGlobal(c.old))) return false;
        this.markService(c.object.meta.id);
        return true;
      case 'task': {
        const service = store.get('service', c.object.serviceId);
        if (service !== undefined && !isGlobal(service)) return false;
        this.markService(c.object.serviceId);
        return true;
      }
      case 'node': {
        // Any node change may change eligibility (status, availability, labels, role).
        for (const s of store.list('service')) if (isGlobal(s)) this.markService(s.meta.id);
        // Tasks of deleted services there may now be deletable (their node went down).
        for (const t of store.list('task', { nodeIds: [c.object.meta.id] })) {
          if (store.get('service', t.serviceId) === undefined) this.markService(t.serviceId);
        }
        return true;
      }
      default:
        return false;
    }
  }

  protected reconcileService(ctx: PassContext, tasks: readonly Stored<'task'>[]): number | undefined {
    const spec = ctx.service.spec?.task;
    const runtime = spec?.runtime || 'docker';
    let constraints: Constraint[] | undefined;
    try {
      constraints = parseConstraints(spec?.placement?.constraints);
    } catch (err) {
      this.logger.warn({ service: ctx.service.meta.id, err: (err as Error).message }, 'global service has an invalid constraint; starting no new tasks');
    }
    const byNode = new Map<string, Stored<'task'>[]>();
    // Tasks of another mode (a slot) or without a node cannot be this service's: stopped.
    const strays = new Map<number, Stored<'task'>[]>();
    for (const t of tasks) {
      if (t.slot === 0 && t.nodeId !== '') byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
      else strays.set(t.slot, [...(strays.get(t.slot) ?? []), t]);
    }
    const instances: Instance[] = [];
    for (const node of this.host.store.list('node')) {
      const id = node.meta.id;
      instances.push({ tasks: byNode.get(id) ?? [], want: wantOn(node, runtime, constraints), slot: 0, nodeId: id });
      byNode.delete(id);
    }
    for (const [nodeId, nodeTasks] of byNode) instances.push({ tasks: nodeTasks, want: 'stop', slot: 0, nodeId, keepFinished: 0 });
    for (const [slot, slotTasks] of strays) instances.push({ tasks: slotTasks, want: 'stop', slot, nodeId: '' });
    let wake: number | undefined;
    for (const inst of instances) {
      const due = reconcileInstance(ctx, inst);
      if (due !== undefined) wake = Math.min(wake ?? due, due);
    }
    return wake;
  }
}
