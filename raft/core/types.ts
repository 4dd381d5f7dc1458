// The core's view of the formats in proto/raft.proto. Every type here is derived from the
// generated code, so the .proto stays the one definition; `Strict` only removes protobufjs'
// optional/null wrappers so the core can rely on every field being present.
import { raftpb } from '../../proto/gen/raft.js';

type Present<T> = Exclude<T, null | undefined>;
type StrictField<T> = Present<T> extends Uint8Array
  ? Uint8Array
  : Present<T> extends (infer U)[]
    ? StrictField<U>[]
    : Present<T> extends object
      ? Strict<Present<T>>
      : Present<T>;
export type Strict<T> = { [K in keyof T as K extends '$unknowns' ? never : K]-?: StrictField<T[K]> };

export const EntryType = raftpb.EntryType;
export type EntryType = raftpb.EntryType;
export const MessageType = raftpb.MessageType;
export type MessageType = raftpb.MessageType;
export const ConfChangeType = raftpb.ConfChangeType;
export type ConfChangeType = raftpb.ConfChangeType;

export type Entry = Strict<raftpb.Entry.$Properties>;
export type HardState = Strict<raftpb.HardState.$Properties>;
export type ConfState = Strict<raftpb.ConfState.$Properties>;
export type ConfChange = Strict<raftpb.ConfChange.$Properties>;
export type SnapshotMeta = Strict<raftpb.SnapshotMeta.$Properties>;
export type Snapshot = Strict<raftpb.Snapshot.$Properties>;
/** `snapshot` is only carried by MSG_SNAP. */
export type Message = Omit<Strict<raftpb.Message.$Properties>, 'snapshot'> & { snapshot?: SnapshotMeta };

export const NO_NODE = '';

export function emptyHardState(): HardState {
  return { term: 0, vote: NO_NODE, commit: 0 };
}

export function emptySnapshotMeta(): SnapshotMeta {
  return { index: 0, term: 0, conf: { voters: [], learners: [] } };
}

/** A message with every field at its zero value but those given. */
export function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectHintTerm: 0,
    snapOffset: 0,
    snapChunk: EMPTY,
    snapDone: false,
    context: EMPTY,
    ...fields,
  };
}

export const EMPTY: Uint8Array = new Uint8Array(0);

/** Durable state a node restarts from: what storage returns on open. */
export interface PersistedState {
  hardState: HardState;
  /** Latest snapshot (meta.index 0 and empty data when there is none). */
  snapshot: Snapshot;
  /** Entries after snapshot.meta.index, contiguous. */
  entries: Entry[];
}

/** A linearizable read the core has confirmed: serve it once appliedIndex >= index. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export type StateRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface SoftState {
  leader: string;
  role: StateRole;
}

/**
 * What the driver must do, in this order: send `earlyMessages` (at once: they may go out before
 * or while this Ready is persisted); persist `hardState` (if set), `entries` (which may overwrite
 * a conflicting tail from their first index on) and `snapshot` (if set) durably in one write; then
 * send `messages`; then apply `committedEntries` (and install `snapshot` in the state machine if
 * set); then call advance(). `readStates` may be served once applied.
 *
 * `earlyMessages` are a leader's appends, heartbeats and snapshot chunks in a Ready that changes
 * no term or vote (Raft thesis §10.2.1): they promise nothing about the leader's own disk, since
 * the leader counts itself towards a commit only once advance() says its entries are durable.
 * Everything else (votes, a follower's acknowledgements, anything sent in a new term) relies on
 * this Ready's durable state and is in `messages`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  earlyMessages: Message[];
  messages: Message[];
  committedEntries: Entry[];
  readStates: ReadState[];
}
