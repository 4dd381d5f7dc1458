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
import { reconcileInstances, type Instance, type PassContext, type Want } from './instance.js';
import { WholeServiceLoop, isGlobal } from './service-loop.js';

/** What the service wants on `node`; undefined constraints (unparseable) start nothing new. */
export function wantOn(node: Stored<'node'>, runtime: string, constraints: Constraint[] | undefined): Want {
  if (node.spec?.availability === baton.NodeAvailability.DRAIN) return 'stop';
  if (constraints === undefined) return 'keep';
  // A runtime or constraint mismatch is for good; not being available (paused, not ready) is not.
  if (specFailure(node, runtime, constraints) !== undefined) return 'stop';
  return isAvailable(node) ? 'run' : 'keep';
}

/** Jobs: the iteration new tasks belong to, and what a node wants once its own task is known. */
export interface NodeInstanceOptions {
  jobIteration?: number;
  want?: (want: Want, nodeTasks: readonly Stored<'task'>[]) => Want;
}

/**
 * The instances of a global service or global job: one per node, wanting what `wantOn` says
 * (then `opts.want`); the tasks on a node no longer there stopped with no history kept; tasks of
 * a slot (another mode) or without a node, which cannot be this service's, stopped. Constraints
 * that do not parse are reported to `onBadConstraint` and start nothing new.
 */
export function nodeInstances(
  ctx: PassContext,
  tasks: readonly Stored<'task'>[],
  nodes: readonly Stored<'node'>[],
  onBadConstraint: (err: Error) => void,
  opts: NodeInstanceOptions = {},
): Instance[] {
  const spec = ctx.service.spec?.task;
  const runtime = spec?.runtime || 'docker';
  let constraints: Constraint[] | undefined;
  try {
    constraints = parseConstraints(spec?.placement?.constraints);
  } catch (err) {
    onBadConstraint(err as Error);
  }
  const byNode = new Map<string, Stored<'task'>[]>();
  const strays = new Map<number, Stored<'task'>[]>();
  for (const t of tasks) {
    if (t.slot === 0 && t.nodeId !== '') byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
    else strays.set(t.slot, [...(strays.get(t.slot) ?? []), t]);
  }
  const instances: Instance[] = [];
  for (const node of nodes) {
    const id = node.meta.id;
    const nodeTasks = byNode.get(id) ?? [];
    byNode.delete(id);
    const base = wantOn(node, runtime, constraints);
    const want = opts.want ? opts.want(base, nodeTasks) : base;
    instances.push({ tasks: nodeTasks, want, slot: 0, nodeId: id, ...(opts.jobIteration !== undefined ? { jobIteration: opts.jobIteration } : {}) });
  }
  for (const [nodeId, nodeTasks] of byNode) instances.push({ tasks: nodeTasks, want: 'stop', slot: 0, nodeId, keepFinished: 0 });
  for (const [slot, slotTasks] of strays) instances.push({ tasks: slotTasks, want: 'stop', slot, nodeId: '' });
  return instances;
}

export class GlobalOrchestrator extends WholeServiceLoop {
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
    const warn = (err: Error): void => this.logger.warn({ service: ctx.service.meta.id, err: err.message }, 'global service has an invalid constraint; starting no new tasks');
    return reconcileInstances(ctx, nodeInstances(ctx, tasks, this.host.store.list('node'), warn));
  }
}
