import test from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type Entry } from '../../raft/core/types.js';
import { KvStateMachine, encodeKvCommand, type KvCommand } from '../../raft/example/kv-state-machine.js';

let index = 0;
function entry(cmd: KvCommand): Entry {
  return { index: ++index, term: 1, type: EntryType.ENTRY_NORMAL, data: encodeKvCommand(cmd) };
}

test('the example KV store applies, overwrites and answers reads', () => {
  const sm = new KvStateMachine();
  const e = entry({ key: 'a', value: 'one', id: 'w1' });
  assert.equal(sm.apply(e), e.index);
  sm.apply(entry({ key: 'b', value: 'two', id: 'w2' }));
  sm.apply(entry({ key: 'a', value: 'three', id: 'w3' }));
  assert.equal(sm.get('a'), 'three');
  assert.equal(sm.get('b'), 'two');
  assert.equal(sm.get('c'), undefined);
  assert.deepEqual(sm.history(), ['w1', 'w2', 'w3']);
});

test('a KV snapshot restores every key, value and the apply order, multi-byte text included', () => {
  const sm = new KvStateMachine();
  const ids: string[] = [];
  // Enough ids to grow the order buffer past its first allocation.
  for (let i = 0; i < 5000; i++) {
    const id = `write-${i}-\u00e9\u{1f600}`;
    ids.push(id);
    sm.apply(entry({ key: `k/${i % 300}/\u00fc`, value: `v${i}:${'x'.repeat(i % 50)}\u2603`, id }));
  }
  sm.apply(entry({ key: '', value: '', id: '' }));
  ids.push('');
  const snap = sm.snapshot();

  const copy = new KvStateMachine();
  copy.apply(entry({ key: 'stale', value: 'gone after restore', id: 'old' }));
  copy.restore(snap);
  assert.deepEqual(copy.history(), ids);
  for (let k = 0; k < 300; k++) assert.equal(copy.get(`k/${k}/\u00fc`), sm.get(`k/${k}/\u00fc`));
  // The last write to k/7 was i = 4807 (= 16 * 300 + 7).
  assert.equal(copy.get('k/7/\u00fc'), `v4807:${'x'.repeat(4807 % 50)}\u2603`);
  assert.equal(copy.get(''), '');
  assert.equal(copy.get('stale'), undefined);
  // The restored store goes on where the snapshot left off, and snapshots identically.
  assert.ok(Buffer.from(copy.snapshot()).equals(Buffer.from(snap)));
  copy.apply(entry({ key: 'k/1/\u00fc', value: 'after', id: 'next' }));
  assert.equal(copy.get('k/1/\u00fc'), 'after');
  assert.deepEqual(copy.history().slice(-2), ['', 'next']);
});

test('an empty KV store snapshots and restores empty; a truncated snapshot is refused', () => {
  const empty = new KvStateMachine().snapshot();
  const sm = new KvStateMachine();
  sm.restore(empty);
  assert.deepEqual(sm.history(), []);

  const full = new KvStateMachine();
  full.apply(entry({ key: 'key', value: 'value', id: 'w' }));
  const snap = full.snapshot();
  assert.throws(() => new KvStateMachine().restore(snap.subarray(0, 2)), /truncated/);
  assert.throws(() => new KvStateMachine().restore(snap.subarray(0, 10)), /truncated/);
});

test('snapshotLater encodes the state as it was at the call, while writes keep being applied between its slices', async () => {
  const sm = new KvStateMachine();
  // More keys than one slice (4096), so the encoding yields to the event loop several times.
  for (let i = 0; i < 10_000; i++) sm.apply(entry({ key: `k${i}`, value: `v${i}`, id: `w${i}` }));
  const expected = Buffer.from(sm.snapshot());
  const later = sm.snapshotLater();
  // Overwrites, new keys and new ids while the encoding runs.
  let applied = 0;
  let writing = true;
  const write = (): void => {
    if (!writing) return;
    for (let j = 0; j < 50; j++) sm.apply(entry({ key: `k${applied % 12_000}`, value: `changed${applied}`, id: `x${applied++}` }));
    setImmediate(write);
  };
  setImmediate(write);
  const bytes = Buffer.from(await later);
  writing = false;
  assert.ok(applied > 0, 'no write was applied while the snapshot was encoded');
  assert.ok(bytes.equals(expected), 'snapshotLater differs from the snapshot taken at its call');
  const restored = new KvStateMachine();
  restored.restore(bytes);
  assert.equal(restored.get('k9999'), 'v9999');
  assert.equal(restored.history().length, 10_000);
  // An empty store encodes later exactly as now.
  assert.ok(Buffer.from(await new KvStateMachine().snapshotLater()).equals(Buffer.from(new KvStateMachine().snapshot())));
});
