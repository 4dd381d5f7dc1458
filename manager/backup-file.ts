// The backup file (`baton backup`, `baton init --restore`): the magic line "BATON-BACKUP 1\n",
// the payload's length as 8 big-endian bytes, its SHA-256 (32 bytes), then a BackupPayload
// (proto/objects.proto). The length finds a truncated file and the digest a corrupt one
// before anything is decoded, so a bad file is refused in one line and nothing is written.
import { createHash } from 'node:crypto';
import { baton } from '../proto/gen/baton.js';
import { BatonError } from '../rpc/errors.js';

export const BACKUP_FORMAT = 1;
const MAGIC = Buffer.from('BATON-BACKUP 1\n');
const HEADER_BYTES = MAGIC.length + 8 + 32;

export interface Backup {
  clusterId: string;
  index: number;
  createdAt: number;
  managerId: string;
  /** A StoreSnapshot: the store's data as Raft snapshots it. */
  storeSnapshot: Uint8Array;
  /** The managers' sealing key: unseals the CA key, the join tokens and the secrets. */
  managerKey: Uint8Array;
}

export function encodeBackup(b: Backup): Buffer {
  const payload = baton.internal.BackupPayload.encode({ format: BACKUP_FORMAT, ...b }).finish();
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(payload.length));
  return Buffer.concat([MAGIC, length, createHash('sha256').update(payload).digest(), payload]);
}

/** `name` is how an error names the file (its path). */
export function decodeBackup(bytes: Uint8Array, name: string): Backup {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const bad = (why: string): BatonError => new BatonError('INVALID_ARGUMENT', `${name} ${why}: refusing to restore from it`);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw bad(buf.subarray(0, 13).toString('latin1') === 'BATON-BACKUP ' ? 'is a baton backup of a format this version does not read' : 'is not a baton backup');
  }
  if (buf.length < HEADER_BYTES) throw bad(`is truncated (${buf.length} bytes, not even a header)`);
  const length = Number(buf.readBigUInt64BE(MAGIC.length));
  const payload = buf.subarray(HEADER_BYTES);
  if (payload.length < length) throw bad(`is truncated (${buf.length} bytes of ${HEADER_BYTES + length})`);
  if (payload.length > length) throw bad(`has ${payload.length - length} bytes after its end`);
  const digest = buf.subarray(MAGIC.length + 8, HEADER_BYTES);
  if (!createHash('sha256').update(payload).digest().equals(digest)) throw bad('is corrupt (its SHA-256 does not match its content)');
  let p: baton.internal.BackupPayload;
  try {
    p = baton.internal.BackupPayload.decode(payload);
  } catch (err) {
    throw bad(`does not decode (${err instanceof Error ? err.message : String(err)})`);
  }
  if (p.format !== BACKUP_FORMAT) throw bad(`is of format ${p.format}; this version reads format ${BACKUP_FORMAT}`);
  if (!p.clusterId || p.managerKey.length === 0 || p.storeSnapshot.length === 0) throw bad('lacks its cluster id, key or store');
  return {
    clusterId: p.clusterId,
    index: Number(p.index),
    createdAt: Number(p.createdAt),
    managerId: p.managerId,
    storeSnapshot: p.storeSnapshot,
    managerKey: p.managerKey,
  };
}
