// What proposers use to build the data of a store write: one Raft entry, one atomic batch.
import { baton } from '../../proto/gen/baton.js';
import { type Input, type Kind, toStoreObject } from './kinds.js';

export type StoreActionT = baton.internal.StoreAction.$Properties;

/** Create `object`; it needs meta.id (and a name for kinds with unique names). */
export function createAction<K extends Kind>(kind: K, object: Input<K>): StoreActionT {
  return { kind: baton.internal.StoreActionKind.STORE_CREATE, object: toStoreObject(kind, object) };
}

/** Replace the stored object; object.meta.version must be the version it was read at. */
export function updateAction<K extends Kind>(kind: K, object: Input<K>): StoreActionT {
  return { kind: baton.internal.StoreActionKind.STORE_UPDATE, object: toStoreObject(kind, object) };
}

/**
 * Delete the object with object.meta.id. With meta.version set, it must be the stored
 * version; version 0 (or none) deletes whatever version is stored, for callers that
 * remove unconditionally (e.g. `service rm`, a node forcibly removed): pass `{ meta: { id } }`.
 * Only the meta goes into the log, not the whole object.
 */
export function deleteAction<K extends Kind>(kind: K, object: Input<K>): StoreActionT {
  const stub = { meta: { id: object.meta?.id ?? '', version: object.meta?.version ?? 0 } } as Input<K>;
  return { kind: baton.internal.StoreActionKind.STORE_DELETE, object: toStoreObject(kind, stub) };
}

/** The data of one Raft entry. `requestId` lets a proposer recognise its write in the log. */
export function encodeBatch(actions: readonly StoreActionT[], requestId = ''): Uint8Array {
  return baton.internal.StoreBatch.encode({ actions: [...actions], requestId }).finish();
}

export function decodeBatch(data: Uint8Array): baton.internal.StoreBatch {
  return baton.internal.StoreBatch.decode(data);
}
