// Service and task calls of the Control service: specs are validated here, on the leader, so
// bad input is one clear error and nothing is created; the orchestrators do the rest.
import { baton } from '../../proto/gen/baton.js';
import { BatonError } from '../../rpc/errors.js';
import type { Handlers } from '../../rpc/define.js';
import type { ControlService } from '../../rpc/services.js';
import { controlService } from '../../rpc/services.js';
import type { Guard } from '../../rpc/caller.js';
import type { LeaderForwarder } from '../forward.js';
import type { Manager } from '../manager.js';
import { createAction, deleteAction, newObjectId, updateAction, type ListFilter, type Stored } from '../store/index.js';
import { allocatePorts } from '../allocator/ports.js';
import { resolveObject } from './resolve.js';
import { DEFAULT_REPLICAS, describeProblems, normalizeServiceSpec, validateServiceSpec } from '../../spec/index.js';
import { resolveDataReferences } from './references.js';
import { rolledBack, withNewSpec } from '../orchestrator/update/start.js';

type ServiceHandlers = Pick<Handlers<ControlService>, 'CreateService' | 'GetService' | 'ListServices' | 'UpdateService' | 'RemoveService' | 'ListTasks'>;

export interface ServiceDeps {
  manager: Manager;
  forwarder: LeaderForwarder;
  guard: Guard;
  now?: () => number;
  /**
   * Looks a docker image up on this manager's engine (then its registry); throws a BatonError
   * when it is unknown. Absent on a manager without a Docker engine: tasks report it instead.
   */
  checkImage?: (image: string) => Promise<void>;
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

export function serviceHandlers(deps: ServiceDeps): ServiceHandlers {
  const { manager, forwarder, guard } = deps;
  // Service writes run one at a time: port allocation must see the previous write's ports.
  let serviceWrites: Promise<unknown> = Promise.resolve();
  const serially = <T>(run: () => Promise<T>): Promise<T> => {
    const next = serviceWrites.then(run, run);
    serviceWrites = next.catch(() => undefined);
    return next;
  };
  const now = deps.now ?? Date.now;
  const MANAGERS = ['manager'] as const;

  const resolveService = (ref: string): Stored<'service'> => resolveObject(manager, 'service', ref);
  /**
   * Checked by the manager the user talks to, on its engine (the leader trusts that), as
   * `docker service create` resolves an image; an unchanged image is not checked again.
   */
  const checkNewImage = async (spec: baton.ServiceSpec.$Properties | null | undefined, currentImage?: string | null): Promise<void> => {
    const image = spec?.task?.container?.image;
    if (!deps.checkImage || !image || image === currentImage || (spec?.task?.runtime || 'docker') !== 'docker') return;
    await deps.checkImage(image);
  };

  function filterOf(f: baton.Filters.$Properties | null | undefined): ListFilter {
    return {
      ...(f?.ids?.length ? { ids: f.ids } : {}),
      ...(f?.names?.length ? { names: f.names } : {}),
      ...(f?.labels?.length ? { labels: f.labels } : {}),
    };
  }

  return {
    async CreateService(req, call) {
      const caller = guard(call, MANAGERS);
      // Checked here too: forwarded, the spec is encoded again, and a value above 2^53 would reach the leader wrapped.
      acceptServiceSpec(req.spec);
      if (!req.noResolveImage) await checkNewImage(req.spec);
      if (!manager.isLeader()) return forwarder.forward(controlService, 'CreateService', { ...req, noResolveImage: true }, caller);
      return serially(async () => {
        const spec = acceptServiceSpec(req.spec);
        if (!spec.global && !spec.replicas && req.spec?.replicas === undefined) spec.replicas = DEFAULT_REPLICAS;
        await manager.readBarrier();
        resolveDataReferences(manager.store, spec);
        const id = newObjectId();
        const ports = allocatePorts(manager.store, spec);
        const t = now();
        const [stored] = await manager.propose([
          createAction('service', { meta: { id, createdAt: t, updatedAt: t }, spec, endpoint: { ports } }),
        ]);
        return stored!.object as Stored<'service'> as baton.Service;
      });
    },

    async GetService(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return resolveService(req.id ?? '') as baton.Service;
    },

    async ListServices(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return { services: manager.store.list('service', filterOf(req.filters)) as baton.Service[] };
    },

    async UpdateService(req, call) {
      const caller = guard(call, MANAGERS);
      if (!req.rollback) acceptServiceSpec(req.spec);
      if (!req.rollback && !req.noResolveImage) {
        // Only a changed image: a scale must not fail over an image that was let in unchecked.
        const known = manager.store.get('service', req.id ?? '');
        await checkNewImage(req.spec, known?.spec?.task?.container?.image);
      }
      if (!manager.isLeader()) return forwarder.forward(controlService, 'UpdateService', { ...req, noResolveImage: true }, caller);
      return serially(async () => {
        await manager.readBarrier();
        const current = resolveService(req.id ?? '');
        const version = req.version ? Number(req.version) : current.meta.version;
        // Refused here rather than after a Raft round; the store checks again at apply.
        if (version !== current.meta.version) {
          throw new BatonError('VERSION_CONFLICT', `update of service ${current.meta.id}: version ${version} is stale, current is ${current.meta.version}`);
        }
        let next: baton.Service;
        if (req.rollback) {
          const previous = current.previousSpec;
          if (!previous) throw new BatonError('FAILED_PRECONDITION', `service ${current.spec?.annotations?.name ?? current.meta.id} has no previous spec to roll back to`);
          next = rolledBack(current, { ports: allocatePorts(manager.store, previous, current.meta.id) }, now());
        } else {
          const spec = acceptServiceSpec(req.spec);
          resolveDataReferences(manager.store, spec);
          if ((spec.annotations?.name ?? '') !== (current.spec?.annotations?.name ?? '')) {
            throw new BatonError('INVALID_ARGUMENT', 'a service cannot be renamed');
          }
          if (spec.global !== (current.spec?.global ?? false)) throw new BatonError('INVALID_ARGUMENT', 'a service cannot change its mode');
          const ports = allocatePorts(manager.store, spec, current.meta.id);
          next = withNewSpec(current, spec, { ports }, manager.store.list('task', { serviceIds: [current.meta.id] }), now());
        }
        const [stored] = await manager.propose([updateAction('service', next)]);
        return stored!.object as Stored<'service'> as baton.Service;
      });
    },

    async RemoveService(req, call) {
      const caller = guard(call, MANAGERS);
      if (!manager.isLeader()) return forwarder.forward(controlService, 'RemoveService', req, caller);
      await manager.readBarrier();
      const svc = resolveService(req.id ?? '');
      await manager.propose([deleteAction('service', svc)]);
      return { warning: '' };
    },

    async ListTasks(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      const f = req.filters ?? {};
      const filter: ListFilter = { ...filterOf(f) };
      if (f.serviceId) filter.serviceIds = [resolveService(f.serviceId).meta.id];
      if (f.nodeId) filter.nodeIds = [resolveObject(manager, 'node', f.nodeId).meta.id];
      return { tasks: manager.store.list('task', filter) as baton.Task[] };
    },
  };
}
