import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { EntryType } from '../../raft/core/types.js';
import type { Entry, HardState, PersistedState, Snapshot } from '../../raft/core/types.js';
import { RaftStorage, StorageCorruptError, StorageIOError, storageCause } from '../../raft/storage/index.js';
import { crc32c } from '../../raft/storage/crc32.js';
import { HARD_STATE_KEY, entryKey } from '../../raft/storage/keys.js';
import { decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshotParts } from '../../raft/storage/records.js';
import { raftpb } from '../../proto/gen/raft.js';
import { snapshotFileName, writeSnapshotFile } from '../../raft/storage/snapshot-files.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-raft-storage-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: EntryType.ENTRY_NORMAL, data: new TextEncoder().encode(text) };
}
function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}
function snapshot(index: number, term: number, text: string): Snapshot {
  return { meta: { index, term, conf: { voters: ['a', 'b', 'c'], learners: ['d'] } }, data: new TextEncoder().encode(text) };
}

/** Buffers and Uint8Arrays compare unequal under deepStrictEqual; compare plain shapes instead. */
function plain(s: PersistedState): unknown {
  const bytes = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  return {
    hardState: s.hardState,
    snapshot: { meta: s.snapshot.meta, data: bytes(s.snapshot.data) },
    entries: s.entries.map((e) => ({ ...e, data: bytes(e.data) })),
  };
}

/** Opens a store in `dir`, saves `ready` (then `snap`, when given) and closes it again. */
async function saved(dir: string, ready: Parameters<RaftStorage['save']>[0], snap?: Snapshot): Promise<void> {
  const s = await RaftStorage.open(dir);
  await s.save(ready);
  if (snap) await s.saveSnapshot(snap);
  await s.close();
}

async function reopen(dir: string): Promise<PersistedState> {
  const s = await RaftStorage.open(dir);
  try {
    return s.load();
  } finally {
    await s.close();
  }
}

/** Opens the LevelDB underneath the storage directly, the way a disk fault would reach it. */
async function tamper(dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

async function assertCorrupt(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(RaftStorage.open(dir), (err: unknown) => {
    assert.ok(err instanceof StorageCorruptError, `expected StorageCorruptError, got ${String(err)}`);
    assert.equal(err.code, 'RAFT_STORAGE_CORRUPT');
    assert.ok(err.message.startsWith(`raft storage ${dir} is corrupt: `), err.message);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

const snapFiles = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'snap'))).sort();

test('crc32c matches the Castagnoli check value', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // Slicing-by-8 and the byte-at-a-time tail must agree when a buffer is checksummed in parts.
  const data = new Uint8Array(1000).map((_, i) => (i * 31) & 0xff);
  assert.equal(crc32c(data.subarray(13), crc32c(data.subarray(0, 13))), crc32c(data));
});

test('a new directory opens empty', async () => {
  await withDir(async (dir) => {
    const state = await reopen(join(dir, 'nested', 'raft'));
    assert.deepEqual(plain(state), {
      hardState: { term: 0, vote: '', commit: 0 },
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: '' },
      entries: [],
    });
  });
});

test('hard state and entries survive a reopen', async () => {
  await withDir(async (dir) => {
    const s = await RaftStorage.open(dir);
    const hs: HardState = { term: 2, vote: 'node-b', commit: 3 };
    const conf: Entry = { index: 5, term: 2, type: EntryType.ENTRY_CONF_CHANGE, data: new Uint8Array([1, 2, 3]) };
    const empty: Entry = { index: 6, term: 2, type: EntryType.ENTRY_NORMAL, data: new Uint8Array(0) };
    await s.save({ hardState: { term: 1, vote: 'node-a', commit: 0 }, entries: entries(1, 2, 1) });
    await s.save({ hardState: hs, entries: [...entries(3, 4, 2), conf, empty] });
    await s.save({ entries: [] }); // an empty Ready's durable part is a no-op
    await s.close();

    const state = await reopen(dir);
    assert.deepEqual(plain(state), plain({
      hardState: hs,
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) },
      entries: [...entries(1, 2, 1), ...entries(3, 4, 2), conf, empty],
    }));
    // Plain numbers and Uint8Arrays, not protobufjs' Longs and Buffer views.
    assert.equal(typeof state.hardState.term, 'number');
    assert.ok(!Buffer.isBuffer(state.entries[0]!.data));
  });
});

test('writes queued before close() complete; writes after it are refused', async () => {
  await withDir(async (dir) => {
    const s = await RaftStorage.open(dir);
    const pending = [s.save({ entries: entries(1, 2, 1) }), s.save({ entries: entries(3, 3, 1) })];
    await s.close();
    await Promise.all(pending);
    await assert.rejects(s.save({ entries: entries(4, 4, 1) }), /is closed/);
    assert.deepEqual((await reopen(dir)).entries.map((e) => e.index), [1, 2, 3]);
  });
});

test('a conflicting suffix truncates the stored tail', async () => {
  await withDir(async (dir) => {
    const s = await RaftStorage.open(dir);
    await s.save({ entries: entries(1, 6, 1) });
    await s.save({ entries: entries(3, 4, 2) }); // a new leader overwrites 3.. and 5, 6 must go
    await s.close();
    assert.deepEqual(plain(await reopen(dir)), plain({
      hardState: { term: 0, vote: '', commit: 0 },
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) },
      entries: [...entries(1, 2, 1), ...entries(3, 4, 2)],
    }));

    // The in-memory last index followed the truncation: appending after 4 works, a gap does not.
    const s2 = await RaftStorage.open(dir);
    await assert.rejects(s2.save({ entries: entries(6, 6, 2) }), /do not attach/);
    await s2.save({ entries: entries(5, 5, 3) }); // a rejected argument leaves the store usable
    await s2.close();
    assert.deepEqual((await reopen(dir)).entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3]]);
  });
});

test('a snapshot from the leader replaces the whole log', async () => {
  await withDir(async (dir) => {
    const s = await RaftStorage.open(dir);
    await s.save({ hardState: { term: 1, vote: 'a', commit: 8 }, entries: entries(1, 10, 1) });
    await s.saveSnapshot(snapshot(5, 1, 'local'));
    const snap = snapshot(20, 3, 'state at 20');
    await s.save({ hardState: { term: 3, vote: 'a', commit: 20 }, snapshot: snap, entries: entries(21, 22, 3) });
    await s.close();

    const state = await reopen(dir);
    assert.deepEqual(plain(state), plain({ hardState: { term: 3, vote: 'a', commit: 20 }, snapshot: snap, entries: entries(21, 22, 3) }));
    assert.deepEqual(await snapFiles(dir), [snapshotFileName(snap.meta)]);

    // Old entries must be gone from LevelDB, not merely skipped.
    await tamper(dir, async (db) => {
      for (let i = 1; i <= 20; i++) assert.equal(await db.get(entryKey(i)), undefined, `entry ${i}`);
    });
  });
});

test('local compaction keeps the entries after the snapshot index', async () => {
  await withDir(async (dir) => {
    const s = await RaftStorage.open(dir);
    await s.save({ hardState: { term: 1, vote: 'a', commit: 9 }, entries: entries(1, 10, 1) });
    await s.saveSnapshot(snapshot(6, 1, 'at 6'));
    await s.saveSnapshot(snapshot(4, 1, 'stale')); // behind the current snapshot: ignored
    await assert.rejects(s.saveSnapshot(snapshot(11, 1, 'ahead')), /beyond the last index 10/);
    await s.close();

    let state = await reopen(dir);
    assert.equal(state.snapshot.meta.index, 6);
    assert.equal(Buffer.from(state.snapshot.data).toString(), 'at 6');
    assert.deepEqual(state.snapshot.meta.conf, { voters: ['a', 'b', 'c'], learners: ['d'] });
    assert.deepEqual(state.entries.map((e) => e.index), [7, 8, 9, 10]);

    const s2 = await RaftStorage.open(dir);
    await assert.rejects(s2.save({ entries: entries(6, 6, 1) }), /do not attach/); // compacted away
    await s2.saveSnapshot(snapshot(9, 1, 'at 9'));
    await s2.save({ entries: entries(11, 11, 2) });
    await s2.close();
    state = await reopen(dir);
    assert.equal(state.snapshot.meta.index, 9);
    assert.deepEqual(state.entries.map((e) => e.index), [10, 11]);
    assert.deepEqual(await snapFiles(dir), [snapshotFileName({ index: 9, term: 1 })]);
  });
});

test('a snapshot file written in steps is the protobuf encoding of the snapshot, checksummed whole', async () => {
  await withDir(async (dir) => {
    // 2.5 MiB of varied bytes: three write steps, the last one short.
    const data = new Uint8Array(2.5 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >>> 11)) & 0xff;
    const snap: Snapshot = { meta: { index: 42, term: 3, conf: { voters: ['a', 'b'], learners: [] } }, data };
    const snapDir = join(dir, 'snap');
    await mkdir(snapDir);
    const name = await writeSnapshotFile(snapDir, snap);
    const bytes = await readFile(join(snapDir, name));
    const payload = bytes.subarray(8);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'BSNP');
    assert.equal(bytes.readUInt32BE(4), crc32c(payload));
    assert.ok(Buffer.from(raftpb.Snapshot.encode(snap).finish()).equals(payload), 'the same bytes protobufjs would encode');
    // The parts the writer streams are that encoding too, with the data itself not copied.
    const parts = encodeSnapshotParts(snap);
    assert.equal(parts[1], data);
    assert.ok(Buffer.concat(parts).equals(payload));
    // An empty state machine: the data field is written with length 0 and reads back empty.
    const empty: Snapshot = { meta: { index: 1, term: 1, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array(0) };
    assert.equal(decodeSnapshot(Buffer.concat(encodeSnapshotParts(empty))).data.length, 0);
    assert.deepEqual(decodeSnapshot(Buffer.concat(encodeSnapshotParts(empty))).meta, empty.meta);
  });
});

test('a large snapshot survives a reopen byte for byte', async () => {
  await withDir(async (dir) => {
    const data = new Uint8Array(3 * 1024 * 1024 + 5);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    const s = await RaftStorage.open(dir);
    await s.save({ hardState: { term: 2, vote: 'a', commit: 10 }, entries: entries(1, 10, 2) });
    await s.saveSnapshot({ meta: { index: 8, term: 2, conf: { voters: ['a'], learners: [] } }, data });
    await s.close();
    const state = await reopen(dir);
    assert.equal(state.snapshot.meta.index, 8);
    assert.ok(Buffer.from(state.snapshot.data).equals(data));
  });
});

test('entries a compaction left behind (its range clear cut short) are skipped and removed on open', async () => {
  await withDir(async (dir) => {
    await saved(dir, { hardState: { term: 1, vote: 'a', commit: 10 }, entries: entries(1, 10, 1) }, snapshot(6, 1, 'at 6'));
    const stored = async (): Promise<number[]> => {
      const db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      const out: number[] = [];
      try {
        for await (const [key] of db.iterator()) if (key[0] === 0x65) out.push(key.readUInt32BE(5));
      } finally {
        await db.close();
      }
      return out;
    };
    // The compaction's clear removed entries 1-6 beside the queue, and close() waited for it.
    assert.deepEqual(await stored(), [7, 8, 9, 10]);
    // A stop after the snapshot-meta batch but before the clear: the old entries are still there.
    const db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.batch(entries(2, 6, 1).map((e) => ({ type: 'put' as const, key: entryKey(e.index), value: encodeEntry(e) })));
    await db.close();
    assert.deepEqual(await stored(), [2, 3, 4, 5, 6, 7, 8, 9, 10]);

    const state = await reopen(dir);
    assert.equal(state.snapshot.meta.index, 6);
    assert.deepEqual(state.entries.map((e) => e.index), [7, 8, 9, 10]);
    assert.deepEqual(await stored(), [7, 8, 9, 10]);
  });
});

test('open deletes orphaned and temporary snapshot files and keeps the current one', async () => {
  await withDir(async (dir) => {
    await saved(dir, { entries: entries(1, 10, 1) }, snapshot(5, 1, 'current'));
    // A crash after the rename but before the batch, and one in the middle of writing.
    const snapDir = join(dir, 'snap');
    await writeSnapshotFile(snapDir, snapshot(8, 1, 'orphan'));
    await writeFile(join(snapDir, snapshotFileName({ index: 9, term: 1 }) + '.tmp'), 'half');
    await writeFile(join(snapDir, 'README'), 'not ours');
    assert.equal((await snapFiles(dir)).length, 4);

    const state = await reopen(dir);
    assert.equal(Buffer.from(state.snapshot.data).toString(), 'current');
    assert.deepEqual(await snapFiles(dir), [snapshotFileName({ index: 5, term: 1 }), 'README']);
  });
});

test('a flipped byte in a stored entry is reported with that entry', async () => {
  await withDir(async (dir) => {
    await saved(dir, { hardState: { term: 1, vote: 'a', commit: 2 }, entries: entries(1, 5, 1) });
    await tamper(dir, async (db) => {
      const value = await db.get(entryKey(3));
      assert.ok(value);
      const flipped = Buffer.from(value);
      const at = flipped.length - 2;
      flipped[at] = flipped[at]! ^ 0x01;
      await db.put(entryKey(3), flipped);
    });
    await assertCorrupt(dir, /: entry 3 fails its checksum$/);
  });
});

test('a missing entry in the middle of the log is reported', async () => {
  await withDir(async (dir) => {
    await saved(dir, { entries: entries(1, 5, 1) });
    await tamper(dir, (db) => db.del(entryKey(3)));
    await assertCorrupt(dir, /: entry 3 is missing/);
  });
});

test('an entry stored under another index is reported', async () => {
  await withDir(async (dir) => {
    await saved(dir, { entries: entries(1, 5, 1) });
    await tamper(dir, (db) => db.put(entryKey(3), encodeEntry(entry(4, 1))));
    await assertCorrupt(dir, /: entry 3 holds index 4/);
  });
});

test('decreasing terms are reported', async () => {
  await withDir(async (dir) => {
    await saved(dir, { entries: [...entries(1, 3, 2)] });
    await tamper(dir, (db) => db.put(entryKey(3), encodeEntry(entry(3, 1))));
    await assertCorrupt(dir, /: entry 3 has term 1, lower than the term 2 before it/);
  });
});

test('a commit index beyond the log is reported', async () => {
  await withDir(async (dir) => {
    await saved(dir, { hardState: { term: 1, vote: 'a', commit: 3 }, entries: entries(1, 5, 1) });
    await tamper(dir, (db) => db.put(HARD_STATE_KEY, encodeHardState({ term: 1, vote: 'a', commit: 6 })));
    await assertCorrupt(dir, /: hard state has commit 6 beyond the last index 5/);
  });
});

test('a flipped byte in the snapshot file is reported', async () => {
  await withDir(async (dir) => {
    await saved(dir, { entries: entries(1, 10, 1) }, snapshot(7, 1, 'the state machine at seven'));
    const name = snapshotFileName({ index: 7, term: 1 });
    const path = join(dir, 'snap', name);
    const bytes = await readFile(path);
    const at = bytes.length - 3;
    bytes[at] = bytes[at]! ^ 0x40;
    await writeFile(path, bytes);
    await assertCorrupt(dir, new RegExp(`: snapshot file snap/${name} fails its checksum$`));
    // A corrupt store is left as found: the evidence is not cleaned up.
    assert.deepEqual(await snapFiles(dir), [name]);
  });
});

test('a missing snapshot file is reported', async () => {
  await withDir(async (dir) => {
    await saved(dir, { entries: entries(1, 10, 1) }, snapshot(7, 1, 'x'));
    await rm(join(dir, 'snap', snapshotFileName({ index: 7, term: 1 })));
    await assertCorrupt(dir, /is missing/);
  });
});

test('storageCause names the cause and the file of fs and LevelDB errors, and what to do', async () => {
  const fsError = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  assert.deepEqual(storageCause(fsError, '/d/node.json'), {
    code: 'ENOSPC',
    line: 'no space left on device on /d/node.json',
    fix: 'free space on that filesystem, then start the node again',
  });
  const withPath = Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES', path: '/d/raft/snap' });
  assert.equal(storageCause(withPath, '/d').line, 'permission denied on /d/raft/snap');
  // LevelDB: "Database failed to open" with the reason in its cause, as strerror text.
  const level = new Error('Database failed to open', { cause: new Error('IO error: /d/raft/db/000005.ldb: No space left on device') });
  assert.equal(storageCause(level, '/d/raft').line, 'no space left on device on /d/raft/db/000005.ldb');
  assert.equal(storageCause(level, '/d/raft').code, 'ENOSPC');
  const ro = new Error('IO error: /d/raft/db/LOCK: Read-only file system');
  assert.equal(storageCause(ro, '/d/raft').line, 'read-only file system on /d/raft/db/LOCK');
  // Nothing in the error: LevelDB's own LOG says it.
  await withDir(async (dir) => {
    await writeFile(join(dir, 'LOG'), '2026/12/06-17:05:01.123456 7f3a Recovering log #3\n2026/12/06-17:05:01.223456 7f3a IO error: /x/000007.log: Input/output error\n');
    const bare = new Error('Database failed to open');
    assert.deepEqual(storageCause(bare, '/x', dir), { code: 'EIO', line: 'input/output error on /x/000007.log', fix: 'the disk is failing: check the kernel log (dmesg)' });
    assert.equal(storageCause(bare, '/x').line, 'Database failed to open on /x', 'without a LevelDB dir, the message as it is');
  });
  // LOG.old is the previous run's: read only when LevelDB could not write a new LOG (empty).
  await withDir(async (dir) => {
    await writeFile(join(dir, 'LOG.old'), '2026/12/01-10:00:00.000000 7f3a IO error: /x/000003.log: No space left on device\n');
    await writeFile(join(dir, 'LOG'), '');
    const bare = new Error('Database failed to open');
    assert.equal(storageCause(bare, '/x', dir).line, 'no space left on device on /x/000003.log');
    await writeFile(join(dir, 'LOG'), '2026/12/06-17:05:01.123456 7f3a Recovering log #3\n');
    assert.equal(storageCause(bare, '/x', dir).line, 'Database failed to open on /x', 'an old error is not today\'s cause');
  });
  const err = new StorageIOError('cannot open the raft log in /d/raft', storageCause(level, '/d/raft'));
  assert.equal(err.message, 'cannot open the raft log in /d/raft: no space left on device on /d/raft/db/000005.ldb; free space on that filesystem, then start the node again');
});

test('the raft log and its snapshots are private to the node\'s user', async () => {
  await withDir(async (dir) => {
    const raftDir = join(dir, 'raft');
    const s = await RaftStorage.open(raftDir);
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 'a', commit: 3 } });
    await s.saveSnapshot(snapshot(3, 1, 'state'));
    await s.close();
    for (const d of [raftDir, join(raftDir, 'snap')]) assert.equal((await stat(d)).mode & 0o777, 0o700, d);
    const snaps = await readdir(join(raftDir, 'snap'));
    assert.equal(snaps.length, 1);
    assert.equal((await stat(join(raftDir, 'snap', snaps[0]!))).mode & 0o777, 0o600);
  });
});
