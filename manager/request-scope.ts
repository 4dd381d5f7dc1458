// The request id of the client call a manager is serving, carried through the handler to every
// batch it proposes. A call retried (re-forwarded to a new leader, or sent again by a client to
// another manager) keeps its id, so the store applies each of its batches once.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';

/** Metadata key of a call's request id (set by clients and by a forwarding manager). */
export const REQUEST_ID = 'x-baton-request-id';

/** Longer ids are cut: it is a key, not a payload. */
const MAX_REQUEST_ID = 128;

interface Scope {
  id: string;
  /** Batches proposed so far in this call: the nth batch of a retry has the nth batch's id. */
  batches: number;
}

const scopes = new AsyncLocalStorage<Scope>();

/** The id a call arrives with, or a new one; scoped by the caller so that callers cannot collide. */
export function requestIdOf(metadata: grpc.Metadata | undefined, callerId: string): string {
  const given = metadata?.get(REQUEST_ID)[0];
  const id = typeof given === 'string' && given !== '' ? given.slice(0, MAX_REQUEST_ID) : randomUUID();
  return `${callerId}/${id}`;
}

/** Runs `fn` as the call with request id `id`. */
export function withRequestId<T>(id: string, fn: () => Promise<T>): Promise<T> {
  return scopes.run({ id, batches: 0 }, fn);
}

/** The request id of the call being served, if any (without the batch number). */
export function currentRequestId(): string | undefined {
  return scopes.getStore()?.id;
}

/**
 * Whether a call with request id `id` is a retry of one that committed (its first batch was
 * applied, though its caller never heard): the control entry asks it once, before the handler.
 */
export function isRetryOfApplied(id: string, hasApplied: (batchId: string) => boolean): boolean {
  return hasApplied(`${id}#1`);
}

/** The id of the next batch this call proposes, or undefined outside a call. */
export function nextBatchId(): string | undefined {
  const scope = scopes.getStore();
  if (!scope) return undefined;
  scope.batches++;
  return `${scope.id}#${scope.batches}`;
}

/**
 * A forwarded call's request id metadata: the receiving manager prefixes the caller again, so
 * the part after the caller's prefix is what travels.
 */
export function requestIdMetadata(md: grpc.Metadata, scopedId: string | undefined, callerId: string): grpc.Metadata {
  if (scopedId === undefined) return md;
  const prefix = `${callerId}/`;
  md.set(REQUEST_ID, scopedId.startsWith(prefix) ? scopedId.slice(prefix.length) : scopedId);
  return md;
}
