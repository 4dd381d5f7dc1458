// The store encodes its snapshot a part at a time (Raft's driver calls snapshotLater and keeps
// applying meanwhile): the bytes are those snapshot() gave at the call, whatever is applied
// while the parts are encoded.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { EntryType } from '../../raft/core/types.js';
import { ClusterStore, cloneObject, createAction, deleteAction, encodeBatch, updateAction, type StoreActionT } from '../../manager/store/index.js';

const T0 = 1_700_000_000_000;

function task(id: string, slot: number): baton.Task.$Properties {
  return {
    meta: { id, createdAt: T0, updatedAt: T0 },
    serviceId: 'svc1',
    slot,
    nodeId: `n${slot % 7}`,
    spec: { runtime: 'process', container: { image: 'img', command: ['sleep', '1'] } },
    desiredState: baton.TaskState.TASK_RUNNING,
    status: { state: baton.TaskState.TASK_RUNNING, timestamp: T0 },
  };
}

test('snapshotLater gives the bytes of snapshot() at its call while writes are applied between its parts', async () => {
  const store = new ClusterStore();
  let index = 0;
  const apply = (...actions: StoreActionT[]): void => {
    const r = store.apply({ term: 1, index: ++index, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions, `r${index}`) });
    if (!r.ok) assert.fail(r.error.message);
  };
  apply(createAction('service', { meta: { id: 'svc1' }, spec: { annotations: { name: 'web' }, replicas: 5_000 } }));
  // More tasks than one part (2,000), so the encoding yields several times.
  for (let i = 0; i < 5_000; i += 500) apply(...Array.from({ length: 500 }, (_, k) => createAction('task', task(`t${String(i + k).padStart(5, '0')}`, i + k + 1))));
  const expected = Buffer.from(store.snapshot());
  const later = store.snapshotLater();
  let writes = 0;
  let writing = true;
  const write = (): void => {
    if (!writing) return;
    // An update, a delete and a create each turn.
    const t = store.get('task', `t${String(writes).padStart(5, '0')}`);
    if (t) {
      const copy = cloneObject('task', t);
      copy.status = { state: baton.TaskState.TASK_FAILED, timestamp: T0 + 1 };
      apply(updateAction('task', copy), deleteAction('task', { meta: { id: `t${String(4_999 - writes).padStart(5, '0')}` } }), createAction('task', task(`new${writes}`, 9_000 + writes)));
    }
    writes++;
    setImmediate(write);
  };
  setImmediate(write);
  const bytes = Buffer.from(await later);
  writing = false;
  assert.ok(writes > 0, 'no write was applied while the snapshot was encoded');
  assert.ok(bytes.equals(expected), 'snapshotLater differs from the snapshot taken at its call');
  const restored = new ClusterStore();
  restored.restore(bytes);
  assert.equal(restored.count('task'), 5_000);
  assert.equal(Buffer.from(restored.snapshot()).equals(expected), true);
  // An empty store encodes later exactly as now.
  assert.ok(Buffer.from(await new ClusterStore().snapshotLater()).equals(Buffer.from(new ClusterStore().snapshot())));
});
