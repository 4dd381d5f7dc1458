// Message <-> bytes for the Raft transport, via the code generated from proto/raft.proto.
// protobufjs decodes into objects whose defaults live on the prototype, whose uint64 fields are
// Long objects (the `long` package is installed, so --force-number is not honoured) and whose
// bytes are Buffers; decodeBatch turns those into the plain, fully populated `Message` the core
// relies on, so nothing downstream has to know about protobufjs.
import { raftpb } from '../proto/gen/raft.js';
import { EMPTY } from './core/types.js';
import type { ConfState, Entry, Message, SnapshotMeta } from './core/types.js';

export function encodeBatch(msgs: Message[]): Uint8Array {
  return raftpb.MessageBatch.encode({ messages: msgs }).finish();
}

/** Throws on malformed input or on a uint64 the core could not represent exactly. */
export function decodeBatch(buf: Uint8Array): Message[] {
  return raftpb.MessageBatch.decode(buf).messages.map(toMessage);
}

function toMessage(m: raftpb.Message.$Properties): Message {
  const out: Message = {
    type: m.type ?? raftpb.MessageType.MSG_NONE,
    from: m.from ?? '',
    to: m.to ?? '',
    term: toNumber(m.term),
    logTerm: toNumber(m.logTerm),
    index: toNumber(m.index),
    entries: (m.entries ?? []).map(toEntry),
    commit: toNumber(m.commit),
    reject: m.reject ?? false,
    rejectHint: toNumber(m.rejectHint),
    rejectHintTerm: toNumber(m.rejectHintTerm),
    snapOffset: toNumber(m.snapOffset),
    snapChunk: toBytes(m.snapChunk),
    snapDone: m.snapDone ?? false,
    context: toBytes(m.context),
  };
  if (m.snapshot) out.snapshot = toSnapshotMeta(m.snapshot);
  return out;
}

function toEntry(e: raftpb.Entry.$Properties): Entry {
  return {
    term: toNumber(e.term),
    index: toNumber(e.index),
    type: e.type ?? raftpb.EntryType.ENTRY_NORMAL,
    data: toBytes(e.data),
  };
}

function toSnapshotMeta(s: raftpb.SnapshotMeta.$Properties): SnapshotMeta {
  return { index: toNumber(s.index), term: toNumber(s.term), conf: toConfState(s.conf) };
}

function toConfState(c: raftpb.ConfState.$Properties | null | undefined): ConfState {
  // Copies, because the decoder's defaults are arrays shared through the prototype.
  return { voters: [...(c?.voters ?? [])], learners: [...(c?.learners ?? [])] };
}

/** The generated types say number, but at runtime a uint64 may arrive as a Long. */
interface LongLike {
  toNumber(): number;
  toString(): string;
}

function toNumber(v: number | LongLike | null | undefined): number {
  if (v == null) return 0;
  const n = typeof v === 'number' ? v : v.toNumber();
  // Beyond 2^53 a term or index would silently round and break log matching: refuse the batch.
  if (!Number.isSafeInteger(n)) throw new RangeError(`uint64 ${v.toString()} is not a safe integer`);
  return n;
}

function toBytes(b: Uint8Array | null | undefined): Uint8Array {
  if (!b || b.length === 0) return EMPTY;
  // A copy, not a view: a view would pin the whole received batch in memory for as long as the
  // log keeps any one entry, and it would be a Buffer rather than the plain Uint8Array we promise.
  return new Uint8Array(b);
}
