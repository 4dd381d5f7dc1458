// What a Raft node keeps in memory is bounded by bytes as well as by entries: a snapshot is
// taken once the entries applied since the last hold snapshotBytes of data, and a compaction
// keeps at most keepBytesAfterCompaction of entries behind the snapshot. Large entries (a store
// batch of 2,000 task updates is ~1 MB) otherwise stay in memory by the thousand.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { RawNode, bootstrapState } from '../../raft/core/raw-node.js';
import { RaftNode } from '../../raft/index.js';
import { KvStateMachine, encodeKvCommand } from '../../raft/example/kv-state-machine.js';
import { waitFor } from '../lib/wait.js';

/** A one-voter core that leads, with `n` entries of `size` bytes each applied. */
function coreWith(keep: { entries: number; bytes?: number }, n: number, size: number): RawNode {
  const node = new RawNode(
    {
      id: 'a',
      electionTick: 10,
      heartbeatTick: 1,
      maxInflightMsgs: 8,
      maxEntriesPerMsg: 64,
      snapshotChunkSize: 1024,
      preVote: false,
      checkQuorum: false,
      random: () => 0.5,
      keepEntriesAfterCompaction: keep.entries,
      ...(keep.bytes !== undefined ? { keepBytesAfterCompaction: keep.bytes } : {}),
    },
    bootstrapState(['a']),
  );
  const drain = (): void => {
    while (node.hasReady()) {
      node.ready();
      node.advance();
    }
  };
  for (let i = 0; i < 40 && node.status().role !== 'leader'; i++) {
    node.tick();
    drain();
  }
  assert.equal(node.status().role, 'leader');
  for (let i = 0; i < n; i++) {
    assert.equal(node.propose(new Uint8Array(size).fill(i % 251)).ok, true);
    drain();
  }
  return node;
}

test('a compaction keeps the entries behind the snapshot that fit keepBytesAfterCompaction, at most keepEntriesAfterCompaction', () => {
  // 30 entries of 100 bytes after the bootstrap's; keep at most 20 entries, at most 1,050 bytes: 10 entries.
  const byBytes = coreWith({ entries: 20, bytes: 1_050 }, 30, 100);
  const applied = byBytes.status().applied;
  byBytes.compact(applied, new Uint8Array([1]));
  assert.equal(byBytes.status().firstIndex, applied - 10 + 1);
  // The entry limit still holds when the bytes allow more.
  const byCount = coreWith({ entries: 5, bytes: 1_000_000 }, 30, 100);
  byCount.compact(byCount.status().applied, new Uint8Array([1]));
  assert.equal(byCount.status().firstIndex, byCount.status().applied - 5 + 1);
  // No byte limit: as before, the entry limit alone.
  const unlimited = coreWith({ entries: 20 }, 30, 100);
  unlimited.compact(unlimited.status().applied, new Uint8Array([1]));
  assert.equal(unlimited.status().firstIndex, unlimited.status().applied - 20 + 1);
  // An entry larger than the whole allowance: nothing is kept behind the snapshot.
  const big = coreWith({ entries: 20, bytes: 50 }, 3, 100);
  big.compact(big.status().applied, new Uint8Array([1]));
  assert.equal(big.status().firstIndex, big.status().applied + 1);
});

test('a node snapshots once the entries applied since the last hold snapshotBytes, long before snapshotEntries', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'baton-raft-log-bytes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sm = new KvStateMachine();
  const node = await RaftNode.start({
    id: 'a',
    dataDir: dir,
    listen: '127.0.0.1:0',
    peers: {},
    bootstrap: ['a'],
    stateMachine: sm,
    logger: pino({ level: 'silent' }),
    tickMs: 20,
    snapshotEntries: 10_000,
    snapshotBytes: 64 * 1024,
    keepEntriesAfterCompaction: 1_000,
    keepBytesAfterCompaction: 16 * 1024,
  });
  t.after(() => node.stop());
  await waitFor('a leads alone', () => node.status().role === 'leader', { timeoutMs: 10_000 });
  const value = 'x'.repeat(4 * 1024);
  const command = (i: number): Uint8Array => encodeKvCommand({ key: `k${String(i).padStart(2, '0')}`, value, id: `w${String(i).padStart(2, '0')}` });
  const size = command(0).byteLength;
  // The write whose data passes 64 KiB (the bootstrap's entries hold a few bytes more).
  const crossing = Math.ceil((64 * 1024) / size);
  assert.ok((crossing - 1) * size + 200 < 64 * 1024, 'the writes before the crossing one stay under 64 KiB');
  for (let i = 0; i < crossing - 1; i++) await node.propose(command(i));
  assert.equal(node.stats().snapshotsTaken, 0);
  assert.equal(node.status().firstIndex, 1);
  // The next passes 64 KiB (with 10,000 entries allowed): a snapshot, and the log keeps the
  // entries behind it that fit 16 KiB: 3 of ~4 KiB.
  await node.propose(command(crossing - 1));
  await waitFor('a snapshot by bytes', () => node.stats().snapshotsTaken === 1, { timeoutMs: 10_000 });
  const { firstIndex, applied } = node.status();
  assert.equal(applied - firstIndex + 1, Math.floor((16 * 1024) / size));
  assert.equal(sm.get(`k${String(crossing - 1).padStart(2, '0')}`), value);
});
