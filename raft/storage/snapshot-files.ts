// Snapshot files in <dir>/snap/: `<index>-<term>.snap` (16 hex digits each), laid out as
// MAGIC, crc32c of the payload (big-endian), then the raftpb.Snapshot payload. They live
// outside LevelDB because a snapshot can be far larger than anything LevelDB should hold in
// one value; the snapshot-meta key in LevelDB decides which file is current.
import { open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot, SnapshotMeta } from '../core/types.js';
import { crc32c } from './crc32.js';
import { StorageCorruptError } from './errors.js';
import { decodeSnapshot, encodeSnapshotParts } from './records.js';

const MAGIC = Buffer.from('BSNP');
const HEADER_BYTES = MAGIC.length + 4;
const NAME = /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/;
const TEMP_SUFFIX = '.tmp';

export function snapshotFileName(meta: Pick<SnapshotMeta, 'index' | 'term'>): string {
  const hex = (n: number): string => n.toString(16).padStart(16, '0');
  return `${hex(meta.index)}-${hex(meta.term)}.snap`;
}

/** Makes the directory's own entries (creations, renames) durable. */
export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Checksummed and written this many bytes at a time. The checksum is CPU work on the node's
 * only thread: over a snapshot of many megabytes in one go it held the Raft loop (and so every
 * write of the cluster) for tens of milliseconds; in steps, the loop runs between them.
 */
const WRITE_STEP = 1 << 20;

/** Durably writes `snap` under its final name (temp file, fsync, rename, fsync dir) and returns that name. */
export async function writeSnapshotFile(snapDir: string, snap: Snapshot): Promise<string> {
  const name = snapshotFileName(snap.meta);
  const temp = join(snapDir, name + TEMP_SUFFIX);
  const fh = await open(temp, 'w', 0o600);
  try {
    // The header's checksum is known only at the end: the payload goes first, after the
    // header's place, and the header last; nothing reads the temp file before its rename.
    let crc = 0;
    let at = HEADER_BYTES;
    for (const part of encodeSnapshotParts(snap)) {
      for (let from = 0; from < part.length; from += WRITE_STEP) {
        const step = part.subarray(from, Math.min(part.length, from + WRITE_STEP));
        crc = crc32c(step, crc);
        await writeFully(fh, step, at);
        at += step.length;
      }
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32BE(crc, MAGIC.length);
    await writeFully(fh, header, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, join(snapDir, name));
  await fsyncDir(snapDir);
  return name;
}

/** A positional write may be short: repeat until every byte is written. */
async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Reads and verifies the file the snapshot-meta key names. */
export async function readSnapshotFile(dir: string, snapDir: string, meta: SnapshotMeta): Promise<Snapshot> {
  const name = snapshotFileName(meta);
  const record = `snapshot file snap/${name}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(snapDir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StorageCorruptError(dir, record, 'is missing (the snapshot-meta key names it)');
    }
    throw err;
  }
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new StorageCorruptError(dir, record, 'has no valid header');
  }
  const payload = bytes.subarray(HEADER_BYTES);
  if (crc32c(payload) !== bytes.readUInt32BE(MAGIC.length)) {
    throw new StorageCorruptError(dir, record, 'fails its checksum');
  }
  let snap: Snapshot;
  try {
    snap = decodeSnapshot(payload);
  } catch (err) {
    throw new StorageCorruptError(dir, record, `cannot be decoded (${(err as Error).message})`, { cause: err });
  }
  if (snap.meta.index !== meta.index || snap.meta.term !== meta.term) {
    throw new StorageCorruptError(
      dir,
      record,
      `holds index ${snap.meta.index} term ${snap.meta.term}, not the index ${meta.index} term ${meta.term} of the snapshot-meta key`,
    );
  }
  return snap;
}

/**
 * Deletes every snapshot or temp file but `keep`: temp files of interrupted writes, files
 * renamed just before a crash that kept their meta key from being written, and old snapshots
 * whose deletion a crash interrupted. Files this module did not name are left alone.
 */
export async function removeStaleSnapshotFiles(snapDir: string, keep: string | undefined): Promise<void> {
  let removed = false;
  for (const name of await readdir(snapDir)) {
    if (name === keep) continue;
    const base = name.endsWith(TEMP_SUFFIX) ? name.slice(0, -TEMP_SUFFIX.length) : name;
    if (!NAME.test(base)) continue;
    await unlinkIfPresent(join(snapDir, name));
    removed = true;
  }
  if (removed) await fsyncDir(snapDir);
}

export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
