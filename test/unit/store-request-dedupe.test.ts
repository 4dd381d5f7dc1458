// A batch proposed again under the same request id (a write retried after its leader was lost,
// which may have committed it anyway) is applied once, on every manager alike, including one
// that restored a snapshot in between.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { EntryType } from '../../raft/core/types.js';
import { ClusterStore, createAction, encodeBatch, updateAction, type StoreActionT } from '../../manager/store/index.js';
import { AppliedRequests } from '../../manager/store/applied-requests.js';

function entry(index: number, actions: StoreActionT[], requestId: string) {
  return { term: 1, index, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions, requestId) };
}

function secret(id: string, name: string, version = 0): baton.Secret.$Properties {
  return { meta: { id, version }, spec: { annotations: { name, labels: {} }, data: new Uint8Array([1]) } };
}

test('the same request id applied twice changes the store once and answers with the stored object', () => {
  const store = new ClusterStore();
  const first = store.apply(entry(1, [createAction('secret', secret('s1', 'one'))], 'm1/r1#1'));
  assert.ok(first.ok);
  const update = store.apply(entry(2, [updateAction('secret', { ...secret('s1', 'one'), meta: { id: 's1', version: 1 }, spec: { annotations: { name: 'one', labels: { a: 'b' } }, data: new Uint8Array([1]) } })], 'm1/r2#1'));
  assert.ok(update.ok);
  // The retried update reaches the log a second time: without the id it would be a version conflict.
  const again = store.apply(entry(3, [updateAction('secret', { ...secret('s1', 'one'), meta: { id: 's1', version: 1 } })], 'm1/r2#1'));
  assert.ok(again.ok, 'a duplicate is answered as the write it repeats');
  assert.equal(again.index, 2);
  assert.equal(store.get('secret', 's1')?.meta.version, 2);
  assert.deepEqual(store.get('secret', 's1')?.spec?.annotations?.labels, { a: 'b' });
  // A create retried under its id is not "already exists".
  const createdAgain = store.apply(entry(4, [createAction('secret', secret('s1', 'one'))], 'm1/r1#1'));
  assert.ok(createdAgain.ok);
  assert.equal(store.list('secret').length, 1);
  // Another id is a new write.
  const clash = store.apply(entry(5, [createAction('secret', secret('s1', 'one'))], 'm1/r3#1'));
  assert.equal(clash.ok, false);
});

test('the applied request ids travel in snapshots, so a restored manager deduplicates alike', () => {
  const a = new ClusterStore();
  a.apply(entry(1, [createAction('secret', secret('s1', 'one'))], 'm2/x#1'));
  const b = new ClusterStore();
  b.restore(a.snapshot());
  const dup = entry(2, [createAction('secret', secret('s2', 'two'))], 'm2/x#1');
  a.apply(dup);
  b.apply(dup);
  assert.deepEqual(b.snapshot(), a.snapshot());
  assert.equal(b.list('secret').length, 1);
});

test('failed batches are not remembered: the same id may apply once the conflict is gone', () => {
  const store = new ClusterStore();
  store.apply(entry(1, [createAction('secret', secret('s1', 'one'))], 'a#1'));
  assert.equal(store.apply(entry(2, [createAction('secret', secret('s2', 'one'))], 'b#1')).ok, false);
  store.apply(entry(3, [createAction('secret', secret('s3', 'three'))], 'c#1'));
  assert.equal(store.apply(entry(4, [createAction('secret', secret('s2', 'two'))], 'b#1')).ok, true);
});

test('the window keeps the newest ids, oldest evicted first, in apply order', () => {
  const w = new AppliedRequests(3);
  for (let i = 1; i <= 5; i++) w.record(`r${i}`, i);
  assert.deepEqual(w.list().map((e) => e.requestId), ['r3', 'r4', 'r5']);
  assert.equal(w.indexOf('r2'), undefined);
  assert.equal(w.indexOf('r4'), 4);
  w.record('', 9);
  assert.equal(w.list().length, 3);
});

test('a create retried with a new object id is answered with the object its first attempt created', () => {
  const store = new ClusterStore();
  assert.ok(store.apply(entry(1, [createAction('secret', secret('s1', 'one'))], 'm1/r1#1')).ok);
  assert.equal(store.hasApplied('m1/r1#1'), true);
  assert.equal(store.hasApplied('m1/r2#1'), false);
  // The handler made a new id for its second attempt: the answer is still the stored s1.
  const retry = store.apply(entry(2, [createAction('secret', secret('s9', 'one'))], 'm1/r1#1'));
  assert.ok(retry.ok);
  assert.equal(retry.objects[0]?.object.meta.id, 's1');
  assert.deepEqual(store.list('secret').map((s) => s.meta.id), ['s1']);
});
