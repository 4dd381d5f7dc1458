// A joining member catches up from a snapshot, not by replaying the log (issue 17: a new
// manager caught up in 10 s). A state machine that batches its writes makes few, large entries:
// 100,000 tasks were ~3,100 entries and ~87 MB of log, never the 10,000 entries that took a
// snapshot, so a 4th manager replayed everything from index 1. Now a snapshot is also taken
// once the entries since the last one weigh 16 MiB (or the last snapshot's size), and the
// leader sends the snapshot to a follower when the entries it lacks up to it weigh more than
// it, even while the log still holds them. Real RaftNodes on 127.0.0.1 with the example
// key-value state machine, the defaults of both policies; nothing here depends on speed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ConfChangeType, RaftNode } from '../../raft/index.js';
import { KvStateMachine, encodeKvCommand } from '../../raft/example/kv-state-machine.js';
import { waitFor } from '../lib/wait.js';

const KEYS = 8;
const VALUE_BYTES = 512 * 1024;

test('few large entries: a snapshot is taken, and a member that joins later installs it instead of replaying the log', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'baton-raft-catch-up-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const logger = pino({ level: 'silent' });
  const smA = new KvStateMachine();
  const a = await RaftNode.start({ id: 'a', dataDir: join(root, 'a'), listen: '127.0.0.1:0', peers: {}, bootstrap: ['a'], stateMachine: smA, logger, tickMs: 50, electionTicks: 20 });
  t.after(() => a.stop());
  await waitFor('a leads', () => a.status().role === 'leader', { timeoutMs: 20_000 });

  // 48 entries of 512 KiB (24 MiB) over 8 keys: far fewer entries than the count that takes a
  // snapshot (10,000), more bytes than the 16 MiB that now does; the state is 4 MiB.
  const write = async (i: number): Promise<void> => {
    const value = String.fromCharCode(97 + (i % 26)).repeat(VALUE_BYTES);
    await a.propose(encodeKvCommand({ key: `k${i % KEYS}`, value, id: `w${i}` }));
  };
  for (let i = 0; i < 48; i++) await write(i);
  await waitFor('a snapshot taken', () => a.stats().snapshotsTaken >= 1, { timeoutMs: 20_000 });
  // The log still holds every entry behind it (1,000 are kept for followers that lag a little).
  assert.equal(a.status().firstIndex, 1, 'the entries are still in the log');

  const smB = new KvStateMachine();
  const b = await RaftNode.start({ id: 'b', dataDir: join(root, 'b'), listen: '127.0.0.1:0', peers: { a: `127.0.0.1:${a.raftPort}` }, bootstrap: [], stateMachine: smB, logger, tickMs: 50, electionTicks: 20 });
  t.after(() => b.stop());
  // A learner: the leader feeds it as any follower, but the quorum (and so the leadership, on a
  // loaded machine) does not wait for it while it catches up.
  await a.changeMembership(ConfChangeType.ADD_LEARNER, 'b', `127.0.0.1:${b.raftPort}`);
  await write(48);
  await waitFor('b caught up', () => b.status().applied >= a.status().commit, { timeoutMs: 30_000 });

  assert.equal(b.stats().snapshotsInstalled, 1, 'b installed the leader\'s snapshot');
  for (let k = 0; k < KEYS; k++) assert.equal(smB.get(`k${k}`), smA.get(`k${k}`), `k${k} as on the leader`);
  // Only the entries after the snapshot were applied one by one on b: its apply order starts
  // with the snapshot's history, and it has every write.
  assert.deepEqual(smB.history(), smA.history());
});
