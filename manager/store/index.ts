// The replicated cluster store (Raft's state machine): what the control API, orchestrators, scheduler
// and dispatcher import. The rules every caller relies on:
//
// - Writes go through Raft only: build actions (createAction/updateAction/deleteAction),
//   encodeBatch them, propose; RaftNode.propose resolves with apply()'s ApplyResult. One entry
//   is one atomic batch; a failed batch is `{ ok: false, error }`, never a throw, and changes
//   nothing. The proposer stamps meta.created_at/updated_at; apply never reads a clock.
// - meta.version is the Raft index of the object's last change. UPDATE and DELETE carry the
//   version they read; a different stored version is VERSION_CONFLICT (re-read, retry).
//   DELETE with version 0 is unconditional. CREATE ignores the given version.
// - Names (spec.annotations.name) are unique per kind, ignoring case, for cluster, service,
//   secret and config, and required there. Nodes may share names; a node without one goes by
//   description.hostname. Tasks have none.
// - Reads are synchronous and return frozen objects shared by every caller; cloneObject() gives
//   a mutable copy to change and propose. Bytes fields read as fresh copies. Linearizable reads
//   are the caller's job (RaftNode.readBarrier() first).
// - Listeners (onChange, watch) run synchronously after each batch, in log order, so a list()
//   and a watch started in the same tick miss nothing in between. restore() sends `reset`.
export { ClusterStore, type ApplyResult, type ClusterStoreOptions } from './store.js';
export { StoreError, WatchOverflowError, type StoreErrorCode } from './errors.js';
export { createAction, updateAction, deleteAction, encodeBatch, decodeBatch, type StoreActionT } from './actions.js';
export { type ListFilter } from './filter.js';
export {
  KINDS,
  isKind,
  hasUniqueNames,
  cloneObject,
  type Kind,
  type KindMap,
  type PropsMap,
  type Stored,
  type Input,
  type StoreObjectT,
} from './kinds.js';
export { type DeepReadonly } from './freeze.js';
export { newObjectId, isFinished } from './ids.js';
export {
  StoreWatch,
  DEFAULT_WATCH_BUFFER,
  type ChangeAction,
  type StoreChange,
  type StoreReset,
  type StoreEvent,
  type WatchFilter,
  type ChangeListener,
} from './watch.js';
export { MESH_DRAIN_LABEL } from './task-labels.js';
