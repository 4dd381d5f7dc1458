// The durable Raft log: hard state, entries and snapshot meta in LevelDB, snapshot data in
// files. Every durable write is one LevelDB batch with sync:true, because batching is what
// makes the log fast (one fsync per Ready, whatever its size); nothing on the save path reads from disk.
// The one exception is the removal of entries a local snapshot covers (see clearCompacted).
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Level } from 'level';
import type { Entry, HardState, PersistedState, Snapshot, SnapshotMeta } from '../core/types.js';
import { StorageCorruptError, StorageIOError, storageCause } from './errors.js';
import { ENTRY_MIN, HARD_STATE_KEY, SNAPSHOT_META_KEY, entryKey } from './keys.js';
import { readState, type Db } from './read-state.js';
import { encodeEntry, encodeHardState, encodeSnapshotMeta } from './records.js';
import { fsyncDir, removeStaleSnapshotFiles, unlinkIfPresent, writeSnapshotFile } from './snapshot-files.js';

/** A caller's mistake, detected before any I/O: the store is unchanged and stays usable. */
class InvalidWrite extends Error {}

type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export interface SaveRequest {
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

export class RaftStorage {
  /** Serializes writes so each one sees the in-memory indexes its predecessor left. */
  private queue: Promise<void> = Promise.resolve();
  /** The range deletion of entries the last local compaction covered (see clearCompacted). */
  private clearing: Promise<void> = Promise.resolve();
  /** Set when a write failed: after a failed fsync nothing about the disk can be assumed (fail-stop). */
  private failure: Error | undefined;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly snapDir: string,
    private readonly db: Db,
    private readonly loaded: PersistedState,
    private snapIndex: number,
    private snapFile: string | undefined,
    private lastIndex: number,
  ) {}

  static async open(dir: string): Promise<RaftStorage> {
    dir = resolve(dir);
    const snapDir = join(dir, 'snap');
    const dbDir = join(dir, 'db');
    const cannotOpen = (err: unknown, levelDir?: string): StorageIOError =>
      new StorageIOError(`cannot open the raft log in ${dir}`, storageCause(err, dir, levelDir), { cause: err });
    try {
      // The log holds the cluster's state: only the node's own user may read it.
      await mkdir(snapDir, { recursive: true, mode: 0o700 });
      // A freshly created directory is only durable once its parent's entry for it is.
      await fsyncDir(dirname(dir));
      await fsyncDir(dir);
    } catch (err) {
      throw cannotOpen(err);
    }
    const db: Db = new Level<Buffer, Buffer>(dbDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === 'LEVEL_CORRUPTION') {
        throw new StorageCorruptError(dir, 'leveldb', `cannot be opened (${cause.message ?? ''})`, { cause: err });
      }
      throw cannotOpen(err, dbDir);
    }
    try {
      const opened = await readState(dir, snapDir, db);
      // Only after everything verified: a corrupt store is left exactly as found, for forensics.
      await removeStaleSnapshotFiles(snapDir, opened.snapshotFile);
      const snapIndex = opened.state.snapshot.meta.index;
      // Entries a compaction's range clear had not removed yet when the node stopped.
      if (opened.compactedLeft) await db.clear({ gte: ENTRY_MIN, lte: entryKey(snapIndex) });
      return new RaftStorage(dir, snapDir, db, opened.state, snapIndex, opened.snapshotFile, opened.lastIndex);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  /** The state as open() read and verified it; later saves do not change what this returns. */
  load(): PersistedState {
    return this.loaded;
  }

  /**
   * One Ready's durable part, in ONE LevelDB batch with sync:true. `entries` replace every stored
   * entry from entries[0].index on (a conflicting tail is truncated). If `snapshot` is set it came
   * from the leader and replaces the whole log: its file is written first, then the same batch
   * holds the snapshot-meta key and the deletion of every older entry.
   */
  save(p: SaveRequest): Promise<void> {
    return this.enqueue(async () => {
      if (!p.hardState && p.entries.length === 0 && !p.snapshot) return;
      const ops: Op[] = [];
      let snapIndex = this.snapIndex;
      let last = this.lastIndex;
      if (p.snapshot) {
        const meta = p.snapshot.meta;
        if (meta.index < this.snapIndex) {
          throw new InvalidWrite(`raft storage ${this.dir}: snapshot ${meta.index} is older than the current ${this.snapIndex}`);
        }
        this.deleteEntries(ops, this.snapIndex + 1, last);
        snapIndex = meta.index;
        last = meta.index;
      }
      if (p.entries.length > 0) last = this.appendEntries(ops, p.entries, snapIndex, last);
      if (p.hardState) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(p.hardState) });

      const file = p.snapshot ? await writeSnapshotFile(this.snapDir, p.snapshot) : undefined;
      if (p.snapshot) ops.push({ type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotMeta(p.snapshot.meta) });
      await this.db.batch(ops, { sync: true });
      this.lastIndex = last;
      if (file !== undefined) await this.replaceSnapshotFile(snapIndex, file);
    });
  }

  /** Local compaction: the state machine's snapshot at snap.meta.index; persist it (file), then drop entries <= that index. */
  async saveSnapshot(snap: Snapshot): Promise<void> {
    const meta: SnapshotMeta = snap.meta;
    if (meta.index <= this.snapIndex) return;
    // The file (megabytes, fsynced) is written beside the queue so that appends are not held up
    // behind it; it is an orphan, removed at open, until the small batch below names it.
    let file: string;
    try {
      file = await writeSnapshotFile(this.snapDir, snap);
    } catch (err) {
      throw new StorageIOError(`the raft log in ${this.dir} cannot write a snapshot`, storageCause(err, this.snapDir), { cause: err });
    }
    return this.enqueue(async () => {
      // Already compacted this far (e.g. a leader snapshot overtook it): nothing to keep.
      if (meta.index <= this.snapIndex) {
        await unlinkIfPresent(join(this.snapDir, file));
        return;
      }
      if (meta.index > this.lastIndex) {
        throw new InvalidWrite(`raft storage ${this.dir}: cannot compact to ${meta.index} beyond the last index ${this.lastIndex}`);
      }
      // Only the meta key is in the synced batch: from then on the snapshot covers the old
      // entries, and open() ignores (and removes) any it finds at or below it. Deleting them
      // in this batch cost one op per entry built and converted on the node's only thread
      // (10,000 entries per compaction by default held the Raft loop for tens to hundreds of
      // ms); LevelDB's range clear does it on its own thread.
      const from = this.snapIndex + 1;
      await this.db.batch([{ type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotMeta(meta) }], { sync: true });
      await this.replaceSnapshotFile(meta.index, file);
      this.clearCompacted(from, meta.index);
    });
  }


  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.clearing;
    await this.db.close();
  }

  /**
   * Deletes entries [from, to], already covered by a durable snapshot, beside the write queue:
   * nothing else writes that range any more (a leader's snapshot deletes only what lies past
   * the current snapshot, appends only what lies past the applied index), and a crash that
   * interrupts it leaves entries open() knows to skip.
   */
  private clearCompacted(from: number, to: number): void {
    if (from > to) return;
    this.clearing = this.clearing
      .then(() => this.db.clear({ gte: entryKey(from), lte: entryKey(to) }))
      .catch((err: unknown) => {
        // A failed LevelDB write: as after any failed write, the next one fails and says why.
        this.failure ??= new StorageIOError(`the raft log in ${this.dir} cannot be written`, storageCause(err, this.dir), { cause: err });
      });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    // Checked at call time, so writes queued before close() still complete.
    if (this.closed) return Promise.reject(new Error(`raft storage ${this.dir} is closed`));
    const run = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      try {
        await op();
      } catch (err) {
        // Argument errors are thrown before any I/O and leave the store intact; anything else may not.
        if (err instanceof InvalidWrite) throw err;
        // After a failed write nothing about the disk can be assumed: fail-stop, saying why.
        this.failure = new StorageIOError(`the raft log in ${this.dir} cannot be written`, storageCause(err, this.dir), { cause: err });
        throw this.failure;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Adds the puts for `entries` and deletes for any stored tail past them; returns the new last index. */
  private appendEntries(ops: Op[], entries: Entry[], snapIndex: number, last: number): number {
    const from = entries[0]!.index;
    if (from <= snapIndex || from > last + 1) {
      throw new InvalidWrite(
        `raft storage ${this.dir}: entries from ${from} do not attach to the log (snapshot ${snapIndex}, last ${last})`,
      );
    }
    let expected = from;
    for (const e of entries) {
      if (e.index !== expected) throw new InvalidWrite(`raft storage ${this.dir}: entries skip from ${expected - 1} to ${e.index}`);
      ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
      expected++;
    }
    const newLast = expected - 1;
    this.deleteEntries(ops, newLast + 1, last);
    return newLast;
  }

  private deleteEntries(ops: Op[], from: number, to: number): void {
    for (let i = from; i <= to; i++) ops.push({ type: 'del', key: entryKey(i) });
  }

  /** Called once the batch naming `file` is durable, so the old file is no longer needed. */
  private async replaceSnapshotFile(index: number, file: string): Promise<void> {
    const old = this.snapFile;
    this.snapIndex = index;
    this.snapFile = file;
    if (this.lastIndex < index) this.lastIndex = index;
    // Best effort: a leftover old file is harmless, and open() deletes it.
    if (old !== undefined && old !== file) await unlinkIfPresent(join(this.snapDir, old)).catch(() => undefined);
  }
}
