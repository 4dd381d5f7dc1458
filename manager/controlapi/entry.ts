// The one way into the Control service. Every call: the role check (methods.ts), names and ids
// held to their length limit, then a read barrier (reads) or the leader (writes: run here when
// leading, else forwarded by manager/forward.ts), then the handler; errors mapped once, here.
// A create retried under the request id of an attempt that committed is answered here with
// what that attempt created, for every create alike, so no handler special-cases retries.
import type { baton } from '../../proto/gen/baton.js';
import { RaftError } from '../../raft/index.js';
import { BatonError } from '../../rpc/errors.js';
import { echo } from '../../spec/index.js';
import type { Handlers, RequestOf, ResponseOf } from '../../rpc/define.js';
import { controlService, type ControlService } from '../../rpc/services.js';
import type { Caller, Guard } from '../../rpc/caller.js';
import { MAX_REFERENCE_LENGTH } from '../../rpc/limits.js';
import { FORWARD_TIMEOUT_MS, type LeaderForwarder } from '../forward.js';
import { raftToBaton, storeToBaton, type Manager } from '../manager.js';
import { StoreError } from '../store/index.js';
import { isRetryOfApplied, requestIdOf, withRequestId } from '../request-scope.js';
import { CONTROL_METHODS, type ControlMethod, type MethodRule } from './methods.js';

export interface EntryDeps {
  manager: Manager;
  forwarder: LeaderForwarder;
  guard: Guard;
}

export type Req<K extends ControlMethod> = RequestOf<ControlService[K]>;
export type Res<K extends ControlMethod> = ResponseOf<ControlService[K]>;

export interface CallContext<K extends ControlMethod> {
  caller: Caller;
  /** The same call made on the leader, for the caller (a handler that hands leadership away). */
  toLeader(request: Req<K>): Promise<Res<K>>;
}

export type Run<K extends ControlMethod> = (request: Req<K>, ctx: CallContext<K>) => Promise<Res<K>>;

/**
 * A handler. `prepare` runs on the manager the client called, before a write is forwarded, and
 * returns the request to run or forward (the image check runs against the local engine).
 */
export type Handler<K extends ControlMethod> = Run<K> | { prepare: (request: Req<K>, ctx: CallContext<K>) => Promise<Req<K>>; run: Run<K> };

export type ControlHandlers<K extends ControlMethod = ControlMethod> = { [M in K]: Handler<M> };

/** The gRPC handlers of the whole Control service: each handler behind the entry. */
export function controlEntry(handlers: ControlHandlers, deps: EntryDeps): Handlers<ControlService> {
  const out: Partial<Record<ControlMethod, unknown>> = {};
  for (const method of Object.keys(CONTROL_METHODS) as ControlMethod[]) out[method] = entry(method, handlers, deps);
  return out as Handlers<ControlService>;
}

/** The run part of a method's handler. */
function runOf<K extends ControlMethod>(handler: Handler<K>): Run<K> {
  return typeof handler === 'function' ? handler : handler.run;
}

function entry<K extends ControlMethod>(method: K, handlers: ControlHandlers, deps: EntryDeps): Handlers<ControlService>[K] {
  const rule: MethodRule = CONTROL_METHODS[method];
  const handler = handlers[method];
  const run = runOf(handler);
  const prepare = typeof handler === 'function' ? undefined : handler.prepare;
  const call = async (request: Req<K>, grpcCall: Parameters<Handlers<ControlService>[K]>[1]): Promise<Res<K>> => {
    try {
      const caller = deps.guard(grpcCall, rule.roles);
      checkReferences(request);
      const ctx: CallContext<K> = {
        caller,
        toLeader: (r) => deps.forwarder.forward<ControlService, K>(controlService, method, r, caller, deadlineOf(grpcCall)),
      };
      // Every batch the call proposes carries its request id: a retry of it applies once.
      const requestId = requestIdOf(grpcCall.metadata, caller.nodeId);
      return await withRequestId(requestId, async () => {
        const req = prepare ? await prepare(request, ctx) : request;
        if (rule.access === 'write' && !deps.manager.isLeader()) return await ctx.toLeader(req);
        if (rule.access !== 'local') await deps.manager.readBarrier();
        // After the barrier the store holds the first attempt's batch if it committed.
        const retried = rule.creates === undefined ? undefined : firstAttemptCreated(deps.manager, requestId, rule.creates, req);
        if (retried !== undefined) {
          const get = runOf(handlers[retried.get] as Handler<ControlMethod>);
          return (await get({ id: retried.id }, ctx)) as Res<K>;
        }
        return await run(req, ctx);
      });
    } catch (err) {
      throw toBatonError(err);
    }
  };
  return call as unknown as Handlers<ControlService>[K];
}

/**
 * For a create retried under the request id of an attempt that committed: the object that
 * attempt created (of its kind, under the name the request gives) and the method that answers
 * with it. Undefined for a first attempt, and for a retry whose object was removed meanwhile
 * (the handler runs again, and the store answers its batch as applied, creating nothing).
 */
function firstAttemptCreated(manager: Manager, requestId: string, creates: NonNullable<MethodRule['creates']>, request: object): { id: string; get: ControlMethod } | undefined {
  if (!isRetryOfApplied(requestId, (batchId) => manager.store.hasApplied(batchId))) return undefined;
  const name = (request as { spec?: { annotations?: { name?: string | null } | null } | null }).spec?.annotations?.name ?? '';
  const id = name === '' ? undefined : manager.store.findByName(creates.kind, name)?.meta.id;
  return id === undefined ? undefined : { id, get: creates.get };
}

/** The caller's deadline less a margin for the answer's way back, at most the forwarding default. */
function deadlineOf(call: { getDeadline(): Date | number }): number {
  const given = call.getDeadline();
  const at = given instanceof Date ? given.getTime() : given;
  const fallback = Date.now() + FORWARD_TIMEOUT_MS;
  return Number.isFinite(at) ? Math.min(at - 100, fallback) : fallback;
}

/**
 * A Raft or store error as the API reports it. Anything else goes on as it is: rpc/server.ts
 * logs it with its stack and answers INTERNAL.
 */
export function toBatonError(err: unknown): unknown {
  if (err instanceof RaftError) return raftToBaton(err);
  if (err instanceof StoreError) return storeToBaton(err);
  return err;
}

/** The fields of any Control request that name an object. */
interface References {
  id?: string | null;
  nodeId?: string | null;
  service?: string | null;
  pageToken?: string | null;
  filters?: baton.Filters.$Properties | null;
}

/**
 * Refuses an id, name, prefix or page token longer than any can be, before anything looks it
 * up (a long one costs a scan of every object and could only ever be "not found").
 */
export function checkReferences(request: object): void {
  const r = request as References;
  const f = r.filters;
  const refs = [r.id, r.nodeId, r.service, r.pageToken, f?.serviceId, f?.nodeId, ...(f?.ids ?? []), ...(f?.names ?? [])];
  for (const ref of refs) {
    if (typeof ref === 'string' && ref.length > MAX_REFERENCE_LENGTH) {
      throw new BatonError('INVALID_ARGUMENT', `"${echo(ref)}" is longer than any id or name (at most ${MAX_REFERENCE_LENGTH} characters)`);
    }
  }
}
