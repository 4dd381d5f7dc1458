// The offline steps behind `init --force-new-cluster` and `init --restore`, on real LevelDB:
// a three-voter log whose tail is past the known commit is read whole into a state machine;
// the single-voter log written from it restarts a real RaftNode that elects itself alone,
// holds every write and takes new ones. And the backup file's checks: a truncated, corrupt,
// padded or foreign file is refused in one line naming the file.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EntryType, type Entry } from '../../raft/core/types.js';
import { RaftStorage } from '../../raft/storage/index.js';
import { encodeConfChange } from '../../raft/core/membership.js';
import { ConfChangeType, RaftNode, readLocalLog, writeSingleVoterLog } from '../../raft/index.js';
import { KvStateMachine, encodeKvCommand } from '../../raft/example/kv-state-machine.js';
import { decodeBackup, encodeBackup } from '../../manager/backup-file.js';
import { BatonError } from '../../rpc/errors.js';
import { waitFor } from '../lib/wait.js';

const voter = (index: number, nodeId: string, addr: string): Entry => ({
  index,
  term: 1,
  type: EntryType.ENTRY_CONF_CHANGE,
  data: encodeConfChange({ type: ConfChangeType.ADD_VOTER, nodeId, context: new TextEncoder().encode(addr) }),
});
const put = (index: number, term: number, key: string): Entry => ({ index, term, type: EntryType.ENTRY_NORMAL, data: encodeKvCommand({ key, value: `v${index}`, id: key }) });

test('a three-voter log becomes a one-voter log that keeps every entry and elects itself', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'baton-recovery-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const storage = await RaftStorage.open(dir);
  const log = [voter(1, 'a', '127.0.0.1:1'), voter(2, 'b', '127.0.0.1:2'), voter(3, 'c', '127.0.0.1:3'), put(4, 2, 'x'), put(5, 2, 'y'), put(6, 3, 'z')];
  // Entry 6 is past the commit this node knew of: it may have been committed by a majority it was in.
  await storage.save({ hardState: { term: 3, vote: 'b', commit: 5 }, entries: log });
  await storage.close();

  const read = new KvStateMachine();
  const local = await readLocalLog(dir, read);
  assert.deepEqual(local, { lastIndex: 6, commitIndex: 5, term: 3, voters: ['a', 'b', 'c'], addresses: { a: '127.0.0.1:1', b: '127.0.0.1:2', c: '127.0.0.1:3' } });
  assert.deepEqual(read.history(), ['x', 'y', 'z']);

  await writeSingleVoterLog(dir, { id: 'a', index: local.lastIndex + 1, term: local.term + 1, data: read.snapshot() });
  const reopened = await RaftStorage.open(dir);
  const state = reopened.load();
  await reopened.close();
  assert.deepEqual(state.snapshot.meta, { index: 7, term: 4, conf: { voters: ['a'], learners: [] } });
  assert.deepEqual(state.hardState, { term: 4, vote: '', commit: 7 });
  assert.equal(state.entries.length, 0);

  const sm = new KvStateMachine();
  const node = await RaftNode.start({ id: 'a', dataDir: dir, listen: '127.0.0.1:0', peers: {}, bootstrap: [], stateMachine: sm, logger: pino({ level: 'silent' }), tickMs: 20 });
  t.after(() => node.stop());
  await waitFor('a leads alone', () => node.status().role === 'leader', { timeoutMs: 10_000 });
  assert.deepEqual(node.status().conf.voters, ['a']);
  assert.ok(node.status().term > 4, 'a term above every term of the old log');
  assert.equal(sm.get('z'), 'v6');
  const index = await node.propose(encodeKvCommand({ key: 'after', value: 'yes', id: 'after' }));
  assert.ok(index > 7);
  assert.equal(sm.get('after'), 'yes');
});

test('a backup file says what it is, and a damaged one is refused in one line naming it', () => {
  const backup = { clusterId: 'c1', index: 42, createdAt: 1_800_000_000_000, managerId: 'm1', storeSnapshot: new Uint8Array([1, 2, 3]), managerKey: new Uint8Array(32).fill(7) };
  const file = encodeBackup(backup);
  assert.ok(file.subarray(0, 15).toString() === 'BATON-BACKUP 1\n');
  const back = decodeBackup(file, 'b.bak');
  assert.deepEqual({ ...back, storeSnapshot: [...back.storeSnapshot], managerKey: [...back.managerKey] }, { ...backup, storeSnapshot: [1, 2, 3], managerKey: [...backup.managerKey] });

  const refused = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(() => decodeBackup(bytes, 'b.bak'), (err: unknown) => err instanceof BatonError && err.code === 'INVALID_ARGUMENT' && !err.message.includes('\n') && pattern.test(err.message));
  };
  refused(file.subarray(0, file.length - 1), /^b\.bak is truncated \(\d+ bytes of \d+\): refusing to restore from it$/);
  refused(file.subarray(0, 20), /^b\.bak is truncated \(20 bytes, not even a header\)/);
  refused(Buffer.concat([file, Buffer.from([0])]), /^b\.bak has 1 bytes after its end/);
  const flipped = Buffer.from(file);
  flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
  refused(flipped, /^b\.bak is corrupt \(its SHA-256 does not match its content\)/);
  refused(Buffer.from('hello'), /^b\.bak is not a baton backup/);
  refused(Buffer.from('BATON-BACKUP 2\n...'), /^b\.bak is a baton backup of a format this version does not read/);
});
