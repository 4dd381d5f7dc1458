// Reads the whole durable state on open and checks every invariant the writers keep, so a
// node never starts from a log that lost or garbled an entry it may have acknowledged.
import type { Level } from 'level';
import { EMPTY, emptyHardState, emptySnapshotMeta } from '../core/types.js';
import type { Entry, HardState, PersistedState, Snapshot, SnapshotMeta } from '../core/types.js';
import { StorageCorruptError } from './errors.js';
import { ENTRY_END, ENTRY_MIN, HARD_STATE_KEY, SNAPSHOT_META_KEY, entryKeyIndex } from './keys.js';
import { decodeEntry, decodeHardState, decodeSnapshotMeta, unseal } from './records.js';
import { readSnapshotFile, snapshotFileName } from './snapshot-files.js';

export type Db = Level<Buffer, Buffer>;

export interface OpenedState {
  state: PersistedState;
  /** Name of the current snapshot file, undefined when no snapshot was ever saved. */
  snapshotFile: string | undefined;
  lastIndex: number;
  /** Entries at or below the snapshot index are still stored (a compaction's clear was cut short). */
  compactedLeft: boolean;
}

export async function readState(dir: string, snapDir: string, db: Db): Promise<OpenedState> {
  const hsValue = await db.get(HARD_STATE_KEY);
  const hardState: HardState = hsValue ? unseal(dir, 'hard state', hsValue, decodeHardState) : emptyHardState();

  const metaValue = await db.get(SNAPSHOT_META_KEY);
  let snapshot: Snapshot = { meta: emptySnapshotMeta(), data: EMPTY };
  let snapshotFile: string | undefined;
  if (metaValue) {
    const meta: SnapshotMeta = unseal(dir, 'snapshot-meta key', metaValue, decodeSnapshotMeta);
    snapshot = await readSnapshotFile(dir, snapDir, meta);
    snapshotFile = snapshotFileName(meta);
  }

  const { entries, compactedLeft } = await readEntries(dir, db, snapshot.meta);
  const lastIndex = entries.at(-1)?.index ?? snapshot.meta.index;
  if (hardState.commit > lastIndex) {
    throw new StorageCorruptError(dir, 'hard state', `has commit ${hardState.commit} beyond the last index ${lastIndex}`);
  }
  return { state: { hardState, snapshot, entries }, snapshotFile, lastIndex, compactedLeft };
}

async function readEntries(dir: string, db: Db, snap: SnapshotMeta): Promise<{ entries: Entry[]; compactedLeft: boolean }> {
  const entries: Entry[] = [];
  let compactedLeft = false;
  let expected = snap.index + 1;
  let prevTerm = snap.term;
  for await (const [key, value] of db.iterator({ gte: ENTRY_MIN, lt: ENTRY_END })) {
    const index = entryKeyIndex(key);
    if (index === undefined) {
      throw new StorageCorruptError(dir, `entry key ${key.toString('hex')}`, 'is malformed');
    }
    // Covered by the snapshot: a local compaction writes the snapshot meta first and removes
    // these after it (raft-storage.ts clearCompacted); a stop in between leaves some behind.
    if (index <= snap.index) {
      compactedLeft = true;
      continue;
    }
    const record = `entry ${index}`;
    const entry = unseal(dir, record, value, decodeEntry);
    if (entry.index !== index) {
      throw new StorageCorruptError(dir, record, `holds index ${entry.index} (stored under the key of ${index})`);
    }
    if (index > expected) {
      throw new StorageCorruptError(dir, `entry ${expected}`, `is missing: the log jumps from ${expected - 1} to ${index}`);
    }
    if (entry.term < prevTerm) {
      throw new StorageCorruptError(dir, record, `has term ${entry.term}, lower than the term ${prevTerm} before it`);
    }
    entries.push(entry);
    expected = index + 1;
    prevTerm = entry.term;
  }
  return { entries, compactedLeft };
}
