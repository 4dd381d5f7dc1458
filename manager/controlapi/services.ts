// Service calls of the Control service: specs are validated here, on the leader, so bad input
// is one clear error and nothing is created; the orchestrators do the rest. The role check,
// read barrier and forwarding to the leader are the entry's (entry.ts, methods.ts).
import { baton } from '../../proto/gen/baton.js';
import { BatonError, echo } from '../../rpc/errors.js';
import type { Manager } from '../manager.js';
import { createAction, deleteAction, newObjectId, updateAction, type Stored } from '../store/index.js';
import { allocatePorts } from '../allocator/ports.js';
import { resolveObject } from './resolve.js';
import { parseConstraints } from '../scheduler/index.js';
import { resolveDataReferences } from './references.js';
import { rolledBack, withNewSpec } from '../orchestrator/update/start.js';
import type { ControlHandlers } from './entry.js';
import { listFilterOf } from './filters.js';
import { page } from './paging.js';

export type ServiceMethods = 'CreateService' | 'GetService' | 'ListServices' | 'UpdateService' | 'RemoveService';

export interface ServiceDeps {
  manager: Manager;
  now?: () => number;
  /**
   * Looks a docker image up on this manager's engine (then its registry); throws a BatonError
   * when it is unknown. Absent on a manager without a Docker engine: tasks report it instead.
   */
  checkImage?: (image: string) => Promise<void>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const RUNTIMES = ['docker', 'process'];

/** Checks a spec and fills defaults; throws INVALID_ARGUMENT naming the first problem. */
export function validateServiceSpec(input: baton.ServiceSpec.$Properties | null | undefined): baton.ServiceSpec {
  if (!input) throw new BatonError('INVALID_ARGUMENT', 'a service spec is required');
  const spec = baton.ServiceSpec.fromObject(baton.ServiceSpec.toObject(baton.ServiceSpec.fromObject(input)));
  const name = spec.annotations?.name ?? '';
  if (!NAME.test(name)) throw new BatonError('INVALID_ARGUMENT', `invalid service name "${echo(name)}": use letters, digits, '_', '.', '-' (max 63)`);
  const task = spec.task ?? (spec.task = new baton.TaskSpec());
  task.runtime ||= 'docker';
  if (!RUNTIMES.includes(task.runtime)) throw new BatonError('INVALID_ARGUMENT', `unknown runtime "${echo(task.runtime)}" (want docker or process)`);
  const container = task.container ?? (task.container = new baton.ContainerSpec());
  if (task.runtime === 'docker' && !container.image) throw new BatonError('INVALID_ARGUMENT', 'an image is required');
  if (task.runtime === 'process' && (container.command ?? []).length === 0 && (container.args ?? []).length === 0) {
    throw new BatonError('INVALID_ARGUMENT', 'the process runtime needs a command to run');
  }
  for (const e of container.env ?? []) if (!/^[^=\s]+=/.test(e)) throw new BatonError('INVALID_ARGUMENT', `bad environment variable "${echo(e)}" (want KEY=VALUE)`);
  validateHealthConfig(container.healthcheck);
  if (spec.global && Number(spec.replicas) > 0) throw new BatonError('INVALID_ARGUMENT', '--replicas cannot be used with --mode global');
  parseConstraints(task.placement?.constraints);
  const limits = task.resources?.limits;
  const reservations = task.resources?.reservations;
  for (const r of [limits, reservations]) {
    if (r && (Number(r.nanoCpus) < 0 || Number(r.memoryBytes) < 0)) throw new BatonError('INVALID_ARGUMENT', 'resources cannot be negative');
  }
  validateUpdateConfig(spec.update, 'update');
  validateUpdateConfig(spec.rollback, 'rollback');
  return spec;
}

/** Docker's health check shapes: ["CMD", prog, ...], ["CMD-SHELL", cmd], ["NONE"], or [] (the image's own). */
function validateHealthConfig(h: baton.HealthConfig.$Properties | null | undefined): void {
  if (!h) return;
  const test = h.test ?? [];
  const kind = test[0];
  const ok =
    kind === undefined ||
    (kind === 'NONE' && test.length === 1) ||
    (kind === 'CMD' && test.length >= 2 && test[1] !== '') ||
    (kind === 'CMD-SHELL' && test.length === 2 && test[1] !== '');
  if (!ok) throw new BatonError('INVALID_ARGUMENT', `bad health check test ${echo(JSON.stringify(test))} (want ["CMD", prog, ...], ["CMD-SHELL", cmd] or ["NONE"])`);
  for (const [name, v] of [['interval', h.intervalMs], ['timeout', h.timeoutMs], ['start period', h.startPeriodMs]] as const) {
    if (Number(v ?? 0) < 0) throw new BatonError('INVALID_ARGUMENT', `health check ${name} cannot be negative`);
  }
}

function validateUpdateConfig(c: baton.UpdateConfig.$Properties | null | undefined, what: 'update' | 'rollback'): void {
  if (!c) return;
  const bad = (m: string): never => {
    throw new BatonError('INVALID_ARGUMENT', `${what} config: ${m}`);
  };
  if (Number(c.delayMs ?? 0) < 0) bad('delay cannot be negative');
  if (Number(c.monitorMs ?? 0) < 0) bad('monitor cannot be negative');
  const ratio = Number(c.maxFailureRatio ?? 0);
  if (!(ratio >= 0 && ratio <= 1)) bad(`max failure ratio ${ratio} is not between 0 and 1`);
  const actions = what === 'update' ? [0, 1, 2] : [0, 1];
  if (!actions.includes(c.failureAction ?? 0)) bad(`failure action must be pause${what === 'update' ? ', continue or rollback' : ' or continue'}`);
  if (![0, 1].includes(c.order ?? 0)) bad('order must be stop-first or start-first');
}

export function serviceHandlers(deps: ServiceDeps): ControlHandlers<ServiceMethods> {
  const { manager } = deps;
  // Service writes run one at a time: port allocation must see the previous write's ports.
  let serviceWrites: Promise<unknown> = Promise.resolve();
  const serially = <T>(run: () => Promise<T>): Promise<T> => {
    const next = serviceWrites.then(run, run);
    serviceWrites = next.catch(() => undefined);
    return next;
  };
  const now = deps.now ?? Date.now;

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

  return {
    CreateService: {
      async prepare(req) {
        if (!req.noResolveImage) await checkNewImage(req.spec);
        return { ...req, noResolveImage: true };
      },
      run: (req) =>
        serially(async () => {
          const spec = validateServiceSpec(req.spec);
          // (spec validation of the service-spec vocabulary goes here, before anything is read)
          if (!spec.global && !spec.replicas && req.spec?.replicas === undefined) spec.replicas = 1;
          resolveDataReferences(manager.store, spec);
          const id = newObjectId();
          const ports = allocatePorts(manager.store, spec);
          const t = now();
          const [stored] = await manager.propose([
            createAction('service', { meta: { id, createdAt: t, updatedAt: t }, spec, endpoint: { ports } }),
          ]);
          return stored!.object as Stored<'service'> as baton.Service;
        }),
    },

    async GetService(req) {
      return resolveService(req.id ?? '') as baton.Service;
    },

    async ListServices(req) {
      const all = manager.store.list('service', listFilterOf(req.filters));
      const { items, nextPageToken } = page(all, req, (s) => baton.Service.encode(s as baton.Service).finish().length);
      return { services: items as baton.Service[], nextPageToken };
    },

    UpdateService: {
      async prepare(req) {
        if (!req.rollback && !req.noResolveImage) {
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
            throw new BatonError('VERSION_CONFLICT', `update of service ${current.meta.id}: version ${version} is stale, current is ${current.meta.version}`);
          }
          let next: baton.Service;
          if (req.rollback) {
            const previous = current.previousSpec;
            if (!previous) throw new BatonError('FAILED_PRECONDITION', `service ${current.spec?.annotations?.name ?? current.meta.id} has no previous spec to roll back to`);
            next = rolledBack(current, { ports: allocatePorts(manager.store, previous, current.meta.id) }, now());
          } else {
            const spec = validateServiceSpec(req.spec);
            // (spec validation of the service-spec vocabulary goes here, before anything is read)
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
        }),
    },

    async RemoveService(req) {
      const svc = resolveService(req.id ?? '');
      await manager.propose([deleteAction('service', svc)]);
      return { warning: '' };
    },
  };
}
