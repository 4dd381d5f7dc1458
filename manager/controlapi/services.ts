// Service calls of the Control service: specs are validated here, on the leader, so bad input
// is one clear error and nothing is created; the orchestrators do the rest. The role check,
// read barrier and forwarding to the leader are the entry's (entry.ts, methods.ts).
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Manager } from '../manager.js';
import { createAction, deleteAction, newObjectId, updateAction, type Stored } from '../store/index.js';
import { allocateEndpoint } from '../allocator/ports.js';
import { resolveObject } from './resolve.js';
import { DEFAULT_REPLICAS, describeProblems, normalizeServiceSpec, serviceTaskCounts, validateServiceSpec } from '../../spec/index.js';
import { resolveDataReferences, resolveNetworkReferences } from './references.js';
import { rolledBack, withNewSpec } from '../orchestrator/update/start.js';
import { firstJobStatus, isJobSpec, modeName, planRebalance, startRebalance } from '../orchestrator/index.js';
import { isRolling } from '../orchestrator/update/config.js';
import type { ControlHandlers } from './entry.js';
import { listFilterOf } from './filters.js';
import { encodedSize, page } from './paging.js';

export type ServiceMethods = 'CreateService' | 'GetService' | 'ListServices' | 'UpdateService' | 'RemoveService';

export interface ServiceDeps {
  manager: Manager;
  now?: () => number;
  /**
   * Looks a docker image up on this manager's engine (then its registry); throws a BatonError
   * when it is unknown. Absent on a manager without a Docker engine: tasks report it instead.
   */
  checkImage?: (image: string) => Promise<void>;
  /**
   * Runs writes one at a time. Shared with the network handlers (index.ts): a network is
   * removed only when no service joins it, which a service write in between could change.
   */
  serially?: Serially;
}

export type Serially = <T>(run: () => Promise<T>) => Promise<T>;

/** A queue that runs each write after the previous one has settled. */
export function serialQueue(): Serially {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(run: () => Promise<T>): Promise<T> => {
    const next = last.then(run, run);
    last = next.catch(() => undefined);
    return next;
  };
}

/**
 * The service spec of a create or update, checked by spec/'s validateServiceSpec (every problem
 * in one INVALID_ARGUMENT: this is the authoritative check, whatever the client) and normalised.
 */
export function acceptServiceSpec(input: baton.ServiceSpec.$Properties | null | undefined): baton.ServiceSpec {
  const problems = validateServiceSpec(input);
  if (problems.length > 0 || !input) throw new BatonError('INVALID_ARGUMENT', describeProblems(problems));
  return normalizeServiceSpec(input);
}

/**
 * UpdateService is read-modify-write, as Docker's: the request carries the whole spec read with
 * GetService, changed. A spec without a name is a partial one (only `replicas`, say): refused in
 * one line that says so, rather than as an invalid name.
 */
export function wholeSpec(spec: baton.ServiceSpec.$Properties | null | undefined): baton.ServiceSpec.$Properties | null | undefined {
  if (!spec?.annotations?.name) {
    throw new BatonError('INVALID_ARGUMENT', 'UpdateService replaces the whole spec: read the service with GetService, change its spec and send all of it back with meta.version (this spec has no name, so it is not a whole one)');
  }
  return spec;
}

export function serviceHandlers(deps: ServiceDeps): ControlHandlers<ServiceMethods> {
  const { manager } = deps;
  // Service writes run one at a time: port allocation must see the previous write's ports.
  const serially = deps.serially ?? serialQueue();
  const now = deps.now ?? Date.now;

  const resolveService = (ref: string): Stored<'service'> => resolveObject(manager, 'service', ref);
  const serviceStatusOf = (s: Stored<'service'>): baton.ServiceStatus.$Properties => {
    const c = serviceTaskCounts(s, manager.store.scan('task', { serviceIds: [s.meta.id] }));
    return { runningTasks: c.running, desiredTasks: c.desired, completedTasks: c.completed };
  };
  /**
   * Checked by the manager the user talks to, on its engine (the leader trusts that), as
   * `docker service create` resolves an image; an unchanged image is not checked again.
   */
  const checkNewImage = async (spec: baton.ServiceSpec.$Properties | null | undefined, currentImage?: string | null): Promise<void> => {
    const image = spec?.task?.container?.image;
    if (!deps.checkImage || !image || image === currentImage || (spec?.task?.runtime || 'docker') !== 'docker') return;
    await deps.checkImage(image);
  };

  /**
   * `service rebalance`: plans now and starts the moves in one write; the rolling updater moves
   * them. Refused, in one line, when a rebalance cannot mean anything yet.
   */
  const rebalance = async (current: Stored<'service'>): Promise<baton.Service> => {
    const name = current.spec?.annotations?.name ?? current.meta.id;
    if (isRolling(current)) {
      throw new BatonError('FAILED_PRECONDITION', `service ${name} is being updated (${current.updateStatus?.message ?? ''}): rebalance it once that ends`);
    }
    const store = manager.store;
    const plan = planRebalance(current, store.list('node'), store.list('task'));
    if (plan.blocked === 'not-replicated') throw new BatonError('FAILED_PRECONDITION', `service ${name} is not a replicated service: only replicated services are rebalanced`);
    if (plan.blocked === 'in-flux') throw new BatonError('FAILED_PRECONDITION', `service ${name} has tasks still on their way (see baton service ps ${name}): rebalance it once they run`);
    if (plan.blocked === 'old-spec') throw new BatonError('FAILED_PRECONDITION', `service ${name} has tasks of an older spec: finish its update first (baton service update ${name})`);
    if (plan.moves.length === 0) return current as baton.Service;
    const node = (id: string): Stored<'node'> | undefined => store.get('node', id);
    const [stored] = await manager.propose(startRebalance(current, plan.moves, store.list('task', { serviceIds: [current.meta.id] }), node, now()));
    return stored!.object as Stored<'service'> as baton.Service;
  };

  return {
    CreateService: {
      async prepare(req) {
        // Checked here, on the manager the client called: forwarded, the spec is encoded again,
        // and a value above 2^53 would reach the leader wrapped (2^64-1 arrives as 0).
        acceptServiceSpec(req.spec);
        if (!req.noResolveImage) await checkNewImage(req.spec);
        return { ...req, noResolveImage: true };
      },
      run: (req) =>
        serially(async () => {
          const spec = acceptServiceSpec(req.spec);
          // Unset (proto3 optional) means Docker's default; 0 sent explicitly stays 0. A job has none.
          if (!spec.global && !isJobSpec(spec) && spec.replicas == null) spec.replicas = DEFAULT_REPLICAS;
          resolveDataReferences(manager.store, spec);
          resolveNetworkReferences(manager.store, spec);
          const id = newObjectId();
          const endpoint = allocateEndpoint(manager.store, spec);
          const t = now();
          const jobStatus = firstJobStatus(spec, t);
          const [stored] = await manager.propose([
            createAction('service', { meta: { id, createdAt: t, updatedAt: t }, spec, endpoint, ...(jobStatus ? { jobStatus } : {}) }),
          ]);
          return stored!.object as Stored<'service'> as baton.Service;
        }),
    },

    async GetService(req) {
      return resolveService(req.id ?? '') as baton.Service;
    },

    async ListServices(req) {
      const stored = manager.store.list('service', listFilterOf(req.filters));
      // ?status=true: each service with its task counts (a copy: the stored object is not changed),
      // counted here from the store's per-service index instead of by the client from every task.
      const all = req.status ? stored.map((s) => ({ ...s, serviceStatus: serviceStatusOf(s) })) : stored;
      const { items, nextPageToken } = page(all, req, (s) => encodedSize(baton.Service, s as baton.Service));
      return { services: items as baton.Service[], nextPageToken };
    },

    UpdateService: {
      async prepare(req) {
        if (req.rollback && req.rebalance) throw new BatonError('INVALID_ARGUMENT', 'UpdateService takes rollback or rebalance, not both');
        const specGiven = !req.rollback && !req.rebalance;
        if (specGiven) acceptServiceSpec(wholeSpec(req.spec));
        if (specGiven && !req.noResolveImage) {
          // Only a changed image: a scale must not fail over an image that was let in unchecked.
          const known = manager.store.get('service', req.id ?? '');
          await checkNewImage(req.spec, known?.spec?.task?.container?.image);
        }
        return { ...req, noResolveImage: true };
      },
      run: (req) =>
        serially(async () => {
          const current = resolveService(req.id ?? '');
          const version = req.version ? Number(req.version) : current.meta.version;
          // Refused here rather than after a Raft round; the store checks again at apply.
          if (version !== current.meta.version) {
            throw new BatonError('VERSION_CONFLICT', `update of service ${current.meta.id}: version ${version} is stale, current is ${current.meta.version} (read the service again with GetService, redo the change on its spec and send that version)`);
          }
          if (req.rebalance) return rebalance(current);
          let next: baton.Service;
          if (req.rollback) {
            const previous = current.previousSpec;
            if (!previous) throw new BatonError('FAILED_PRECONDITION', `service ${current.spec?.annotations?.name ?? current.meta.id} has no previous spec to roll back to`);
            // A network only the previous spec joined may have been removed since.
            try {
              resolveNetworkReferences(manager.store, baton.ServiceSpec.fromObject(baton.ServiceSpec.toObject(previous as baton.ServiceSpec)));
            } catch (err) {
              if (!(err instanceof BatonError) || err.code !== 'NOT_FOUND') throw err;
              throw new BatonError('FAILED_PRECONDITION', `service ${current.spec?.annotations?.name ?? current.meta.id} cannot roll back: its previous spec joins a network that no longer exists (${err.message.replace(/ \(create .*\)$/, '')})`);
            }
            next = rolledBack(current, allocateEndpoint(manager.store, previous, current.meta.id), now());
          } else {
            const spec = acceptServiceSpec(wholeSpec(req.spec));
            // A whole spec without a count keeps the current one (a scale is a change of it).
            if (!spec.global && !isJobSpec(spec) && spec.replicas == null) spec.replicas = current.spec?.replicas ?? DEFAULT_REPLICAS;
            resolveDataReferences(manager.store, spec);
            resolveNetworkReferences(manager.store, spec);
            if ((spec.annotations?.name ?? '') !== (current.spec?.annotations?.name ?? '')) {
              throw new BatonError('INVALID_ARGUMENT', 'a service cannot be renamed');
            }
            if (modeName(spec) !== modeName(current.spec)) throw new BatonError('INVALID_ARGUMENT', 'a service cannot change its mode');
            next = withNewSpec(current, spec, allocateEndpoint(manager.store, spec, current.meta.id), manager.store.list('task', { serviceIds: [current.meta.id] }), now());
          }
          const [stored] = await manager.propose([updateAction('service', next)]);
          return stored!.object as Stored<'service'> as baton.Service;
        }),
    },

    async RemoveService(req) {
      const svc = resolveService(req.id ?? '');
      await manager.propose([deleteAction('service', svc)]);
      return { warning: '' };
    },
  };
}
