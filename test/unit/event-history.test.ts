// The manager's event history, fed by a store applying hand-built entries: replay after a
// version or from a time, the one-line gap once it no longer holds the changes asked for, and
// a snapshot restore voiding what it held.
import test from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../../raft/core/types.js';
import { ClusterStore, createAction, deleteAction, encodeBatch, updateAction, type StoreActionT } from '../../manager/store/index.js';
import { EventHistory } from '../../manager/events/history.js';

class Log {
  index = 0;
  constructor(readonly store = new ClusterStore()) {}
  apply(...actions: StoreActionT[]): void {
    this.index++;
    const r = this.store.apply({ term: 1, index: this.index, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions, `req-${this.index}`) });
    assert.ok(r.ok, 'applied');
  }
}

const spec = (name: string, replicas: number) => ({ annotations: { name }, replicas, task: { runtime: 'process', container: { command: ['sleep', '1'] } } });

test('events carry kind, action, id, name, version and time, in log order; resumable after a version', () => {
  const log = new Log();
  let clock = 1000;
  const history = new EventHistory(log.store, 100, () => clock);
  log.apply(createAction('service', { meta: { id: 's1' }, spec: spec('web', 1) }));
  clock = 2000;
  const v1 = log.store.get('service', 's1')!;
  log.apply(updateAction('service', { ...v1, spec: spec('web', 3) }));
  clock = 3000;
  log.apply(deleteAction('service', log.store.get('service', 's1')!), createAction('task', { meta: { id: 't1' }, serviceId: 's1' }));

  const all = history.afterVersion(0);
  assert.equal(all.complete, true);
  assert.deepEqual(
    all.events.map((e) => [e.kind, e.action, e.id, e.name, e.version, e.time]),
    [
      ['service', 'create', 's1', 'web', 1, 1000],
      ['service', 'update', 's1', 'web', 2, 2000],
      ['service', 'remove', 's1', 'web', 3, 3000],
      ['task', 'create', 't1', '', 3, 3000],
    ],
  );
  assert.deepEqual(history.afterVersion(2).events.map((e) => e.action), ['remove', 'create']);
  assert.deepEqual(history.sinceTime(2000).events.map((e) => e.version), [2, 3, 3]);

  const seen: number[] = [];
  const stop = history.subscribe((e) => seen.push(e.version));
  log.apply(createAction('config', { meta: { id: 'c1' }, spec: { annotations: { name: 'cfg' }, data: Buffer.from('x') } }));
  stop();
  log.apply(deleteAction('config', log.store.get('config', 'c1')!));
  assert.deepEqual(seen, [4], 'a subscriber gets new events until it unsubscribes');
});

test('past its capacity the history drops whole versions and says it no longer holds them', () => {
  const log = new Log();
  let clock = 0;
  const history = new EventHistory(log.store, 3, () => ++clock);
  for (let i = 1; i <= 5; i++) log.apply(createAction('secret', { meta: { id: `x${i}` }, spec: { annotations: { name: `s${i}` }, data: Buffer.from('x') } }));
  const r = history.afterVersion(0);
  assert.equal(r.complete, false, 'versions 1 and 2 are gone');
  assert.equal(r.oldest, 2);
  assert.deepEqual(r.events.map((e) => e.version), [3, 4, 5]);
  assert.equal(history.afterVersion(2).complete, true, 'everything after version 2 is held');
  assert.equal(history.sinceTime(1).complete, false);
});

test('a snapshot restore voids the history until the next change', () => {
  const log = new Log();
  const history = new EventHistory(log.store);
  log.apply(createAction('secret', { meta: { id: 'a' }, spec: { annotations: { name: 'a' }, data: Buffer.from('x') } }));
  log.store.restore(log.store.snapshot());
  assert.equal(history.afterVersion(0).complete, false);
  assert.deepEqual(history.afterVersion(0).events, []);
  log.index = 7;
  log.apply(createAction('secret', { meta: { id: 'b' }, spec: { annotations: { name: 'b' }, data: Buffer.from('x') } }));
  assert.equal(history.afterVersion(7).complete, true, 'complete from the first change after the restore');
  assert.equal(history.afterVersion(6).complete, false);
});
