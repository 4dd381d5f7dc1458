// Every LevelDB value and snapshot payload is a protobuf message behind a CRC-32C, so a torn or
// bit-rotted record is reported by name instead of being decoded into plausible garbage.
import { raftpb } from '../../proto/gen/raft.js';
import { EMPTY } from '../core/types.js';
import type { Entry, HardState, Snapshot, SnapshotMeta } from '../core/types.js';
import { crc32c } from './crc32.js';
import { StorageCorruptError } from './errors.js';

const CRC_BYTES = 4;

/** `[crc32c(payload) big-endian][payload]` */
export function seal(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(CRC_BYTES + payload.length);
  out.writeUInt32BE(crc32c(payload), 0);
  out.set(payload, CRC_BYTES);
  return out;
}

/** Checks and decodes a sealed record; any failure is a StorageCorruptError naming `record`. */
export function unseal<T>(dir: string, record: string, value: Uint8Array, decode: (payload: Uint8Array) => T): T {
  if (value.length < CRC_BYTES) throw new StorageCorruptError(dir, record, `is truncated (${value.length} bytes)`);
  const stored = ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
  const payload = value.subarray(CRC_BYTES);
  if (crc32c(payload) !== stored) throw new StorageCorruptError(dir, record, 'fails its checksum');
  try {
    return decode(payload);
  } catch (err) {
    throw new StorageCorruptError(dir, record, `cannot be decoded (${(err as Error).message})`, { cause: err });
  }
}

export const encodeEntry = (e: Entry): Buffer => seal(raftpb.Entry.encode(e).finish());
export const encodeHardState = (h: HardState): Buffer => seal(raftpb.HardState.encode(h).finish());
export const encodeSnapshotMeta = (m: SnapshotMeta): Buffer => seal(raftpb.SnapshotMeta.encode(m).finish());
/**
 * Unsealed: snapshot files carry their checksum in a header (see snapshot-files.ts). The parts,
 * laid end to end, are exactly `raftpb.Snapshot.encode(s)`: the meta and the `data` field's tag
 * and length, then the state machine's bytes themselves, not copied (they can be megabytes).
 */
export function encodeSnapshotParts(s: Snapshot): Uint8Array[] {
  // Field 2 (`data`), wire type 2 (length-delimited). protobufjs leaves an empty bytes field
  // out; writing it with length 0 decodes the same.
  const head = raftpb.Snapshot.encode({ meta: s.meta }).uint32((2 << 3) | 2).uint32(s.data.length).finish();
  return [head, s.data];
}

// Decoded protobufjs objects read absent fields from prototype defaults, may hold null
// sub-messages, and carry uint64s as Long objects at runtime (the `long` package is installed,
// so pbjs' --force-number is not honoured, whatever the generated types say); the core's strict
// types need every field present as an own plain value.

export function decodeEntry(payload: Uint8Array): Entry {
  const d = raftpb.Entry.decode(payload);
  return { term: toNumber(d.term), index: toNumber(d.index), type: d.type, data: toBytes(d.data) };
}

export function decodeHardState(payload: Uint8Array): HardState {
  const d = raftpb.HardState.decode(payload);
  return { term: toNumber(d.term), vote: d.vote, commit: toNumber(d.commit) };
}

export function decodeSnapshotMeta(payload: Uint8Array): SnapshotMeta {
  return strictMeta(raftpb.SnapshotMeta.decode(payload));
}

export function decodeSnapshot(payload: Uint8Array): Snapshot {
  const d = raftpb.Snapshot.decode(payload);
  if (!d.meta) throw new Error('snapshot has no meta');
  return { meta: strictMeta(d.meta), data: toBytes(d.data) };
}

function strictMeta(m: raftpb.ISnapshotMeta): SnapshotMeta {
  return {
    index: toNumber(m.index),
    term: toNumber(m.term),
    // Copies: the decoder's default arrays are shared through the prototype.
    conf: { voters: [...(m.conf?.voters ?? [])], learners: [...(m.conf?.learners ?? [])] },
  };
}

interface LongLike {
  toNumber(): number;
}

function toNumber(v: number | LongLike | null | undefined): number {
  if (v == null) return 0;
  const n = typeof v === 'number' ? v : v.toNumber();
  // Past 2^53 an index would round silently; a checksummed record cannot hold one unless we wrote it wrong.
  if (!Number.isSafeInteger(n)) throw new RangeError(`uint64 ${n} is not a safe integer`);
  return n;
}

function toBytes(b: Uint8Array | null | undefined): Uint8Array {
  if (!b || b.length === 0) return EMPTY;
  // A copy, not a Buffer view into the LevelDB value: the core gets the plain Uint8Array it expects.
  return new Uint8Array(b);
}
