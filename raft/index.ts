// The Raft library's only door: what code outside raft/ may use. The pure core (core/), the
// LevelDB storage (storage/) and the gRPC transport (transport/) stay behind it, so they can
// change shape without their users changing with them (lint rule raft-through-its-door).
export { RaftNode, RAFT_DEFAULTS } from './node.js';
export type { StateMachine, RaftNodeOptions } from './node.js';
export { RaftError } from './errors.js';
export { StorageIOError, storageCause, type StorageCause } from './storage/index.js';
export type { RaftErrorCode } from './errors.js';
export { ConfChangeType, EntryType } from './core/types.js';
export type { Entry, SoftState, StateRole } from './core/types.js';
export type { StreamAuthenticator } from './transport/index.js';
export { readLocalLog, writeSingleVoterLog, type LocalLog, type SingleVoterState } from './single-voter.js';
