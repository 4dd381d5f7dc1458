// Network calls of the Control service: cluster-scoped networks (Docker's overlay) that
// services join to find each other by name. A network is a name, labels and two flags; each
// node that runs a task on it makes its own bridge for it from the object. Like secrets and
// configs it is created once, referenced by services (by id: references.ts resolves the names
// given) and removable only when nothing uses it.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import { NETWORK_DRIVER, describeProblems, validateNetworkSpec } from '../../spec/index.js';
import type { Manager } from '../manager.js';
import { createAction, deleteAction, newObjectId, type Stored } from '../store/index.js';
import type { ControlHandlers } from './entry.js';
import { serialQueue, type Serially } from './services.js';
import { listFilterOf } from './filters.js';
import { encodedSize, page } from './paging.js';
import { resolveObject } from './resolve.js';

export type NetworkMethods = 'CreateNetwork' | 'GetNetwork' | 'ListNetworks' | 'RemoveNetwork';

export interface NetworkDeps {
  manager: Manager;
  now?: () => number;
  /** The service writes' queue: a removal must not pass a service write that joins the network. */
  serially?: Serially;
}

/** The spec of a create request, checked (every problem at once) and with the driver filled in. */
export function acceptNetworkSpec(spec: baton.NetworkSpec.$Properties | null | undefined): baton.NetworkSpec.$Properties {
  const problems = validateNetworkSpec(spec);
  if (problems.length > 0) throw new BatonError('INVALID_ARGUMENT', describeProblems(problems));
  return {
    annotations: { name: spec?.annotations?.name ?? '', labels: { ...(spec?.annotations?.labels ?? {}) } },
    driver: NETWORK_DRIVER,
    attachable: spec?.attachable ?? false,
    internal: spec?.internal ?? false,
  };
}

/** Whether a task spec joins the network. */
function joins(task: baton.TaskSpec.$Properties | null | undefined, id: string): boolean {
  return (task?.networks ?? []).some((n) => n.target === id);
}

/**
 * Why the network cannot go, or undefined: a service whose spec joins it (by name, as Docker's
 * "network X is in use by service Y"), else a task still wanted running on it (one left by an
 * update that took the network out of its service, not yet stopped). Tasks of a removed
 * service are on their way out and do not hold it, so `stack rm` can remove its networks right
 * after its services, as Docker's does.
 */
export function networkInUse(store: Manager['store'], network: Stored<'network'>): string | undefined {
  const name = network.spec?.annotations?.name ?? network.meta.id;
  const services = store
    .list('service')
    .filter((s) => joins(s.spec?.task as baton.TaskSpec.$Properties | undefined, network.meta.id))
    .map((s) => s.spec?.annotations?.name ?? s.meta.id)
    .sort();
  if (services.length > 0) return `network ${name} is in use by service${services.length > 1 ? 's' : ''} ${services.join(', ')}`;
  const running = baton.TaskState.TASK_RUNNING;
  const task = store
    .list('task')
    .find(
      (t) =>
        store.get('service', t.serviceId) !== undefined &&
        t.desiredState <= running &&
        (t.status?.state ?? baton.TaskState.TASK_NEW) <= running &&
        joins(t.spec as baton.TaskSpec.$Properties | undefined, network.meta.id),
    );
  if (task) return `network ${name} is in use by task ${task.annotations?.name || task.meta.id}`;
  return undefined;
}

export function networkHandlers(deps: NetworkDeps): ControlHandlers<NetworkMethods> {
  const { manager } = deps;
  const now = deps.now ?? Date.now;
  const serially = deps.serially ?? serialQueue();

  return {
    async CreateNetwork(req) {
      const spec = acceptNetworkSpec(req.spec);
      const name = spec.annotations?.name ?? '';
      // The store refuses a taken name too (at apply, ignoring case); this says it before a Raft
      // round, in Docker's words.
      if (manager.store.findByName('network', name)) throw new BatonError('ALREADY_EXISTS', `network with name ${name} already exists`);
      const t = now();
      const [stored] = await manager.propose([createAction('network', { meta: { id: newObjectId(), createdAt: t, updatedAt: t }, spec })]);
      return stored!.object as Stored<'network'> as baton.Network;
    },

    async GetNetwork(req) {
      return resolveObject(manager, 'network', req.id ?? '') as baton.Network;
    },

    async ListNetworks(req) {
      const all = manager.store.list('network', listFilterOf(req.filters));
      const { items, nextPageToken } = page(all, req, (n) => encodedSize(baton.Network, n as baton.Network));
      return { networks: items as baton.Network[], nextPageToken };
    },

    RemoveNetwork: (req) =>
      serially(async () => {
        const network = resolveObject(manager, 'network', req.id ?? '');
        const inUse = networkInUse(manager.store, network);
        if (inUse) throw new BatonError('FAILED_PRECONDITION', inUse);
        await manager.propose([deleteAction('network', network)]);
        return { warning: '' };
      }),
  };
}
