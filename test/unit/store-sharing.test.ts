// The store shares equal parts between stored objects (manager/store/share.ts): the tasks of a
// service hold one spec, an update holds what it did not change from the version it replaced.
// Sharing must never change what an object encodes to, so every manager keeps byte-identical
// contents and snapshots, whatever it shared with.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { EntryType } from '../../raft/core/types.js';
import { shareParts } from '../../manager/store/share.js';
import { ClusterStore, cloneObject, createAction, encodeBatch, updateAction, type ApplyResult, type StoreActionT, type Stored } from '../../manager/store/index.js';

class Log {
  index = 0;
  constructor(readonly store = new ClusterStore()) {}
  apply(...actions: StoreActionT[]): ApplyResult {
    this.index++;
    const r = this.store.apply({ term: 1, index: this.index, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions) });
    if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
    return r;
  }
}

const T0 = 1_700_000_000_000;
const SPEC: baton.TaskSpec.$Properties = {
  runtime: 'docker',
  container: { image: 'registry.example.com/api:1.2@sha256:0123456789abcdef', command: ['serve'], env: ['A_LONG_VARIABLE=some value', 'B=2'], labels: { x: '1' } },
  resources: { limits: { nanoCpus: 250_000_000, memoryBytes: 268_435_456 } },
  restart: { delayMs: 5_000 },
};

function task(id: string, slot: number, o: Partial<baton.Task.$Properties> = {}): baton.Task.$Properties {
  return {
    meta: { id, createdAt: T0 + slot, updatedAt: T0 + slot },
    serviceId: 'svc1',
    slot,
    nodeId: '',
    spec: SPEC,
    specVersion: 1,
    endpoint: { expose: [{ targetPort: 80 }] },
    annotations: { name: `web.${slot}` },
    serviceAnnotations: { name: 'web', labels: { team: 'a', tier: 'b' } },
    desiredState: baton.TaskState.TASK_RUNNING,
    status: { state: baton.TaskState.TASK_PENDING, message: 'pending task scheduling', timestamp: T0 },
    ...o,
  };
}

function encodeTask(t: baton.Task.$Properties | Stored<'task'>): string {
  return Buffer.from(baton.Task.encode(t as baton.Task.$Properties).finish()).toString('hex');
}

test('the tasks of a service share one spec, endpoint and service annotations, each write on its own', () => {
  const log = new Log();
  log.apply(createAction('task', task('t1', 1)));
  log.apply(createAction('task', task('t2', 2)), createAction('task', task('t3', 3)));
  const [t1, t2, t3] = ['t1', 't2', 't3'].map((id) => log.store.get('task', id)!);
  assert.ok(t1 && t2 && t3);
  assert.equal(t2.spec, t1.spec);
  assert.equal(t3.spec, t1.spec);
  assert.equal(t2.endpoint, t1.endpoint);
  assert.equal(t2.serviceAnnotations, t1.serviceAnnotations);
  assert.equal(t2.status?.message, 'pending task scheduling');
  // What differs stays each task's own.
  assert.notEqual(t2.meta, t1.meta);
  assert.notEqual(t2.annotations, t1.annotations);
  assert.equal(t2.annotations?.name, 'web.2');
  assert.equal(t2.status, t3.status, 'equal statuses are one object too');
  assert.ok(Object.isFrozen(t2.spec) && Object.isFrozen(t2.spec?.container?.env));
});

test('an update shares what it did not change with the version it replaces', () => {
  const log = new Log();
  log.apply(createAction('task', task('t1', 1)));
  const before = log.store.get('task', 't1')!;
  const copy = cloneObject('task', before);
  copy.nodeId = 'node1';
  copy.status = { ...copy.status, state: baton.TaskState.TASK_ASSIGNED, message: 'assigned to node' };
  log.apply(updateAction('task', copy));
  const after = log.store.get('task', 't1')!;
  assert.equal(after.spec, before.spec);
  assert.equal(after.annotations, before.annotations);
  assert.equal(after.nodeId, 'node1');
  assert.equal(after.status?.state, baton.TaskState.TASK_ASSIGNED);
  assert.equal(before.status?.state, baton.TaskState.TASK_PENDING, 'the replaced version is unchanged');
  assert.equal(after.meta.version, 2);
});

test('a part that encodes differently is not shared: map key order, -0, another message type', () => {
  const log = new Log();
  log.apply(createAction('task', task('t1', 1)));
  // The same labels in another order encode in that order: t2 keeps its own.
  const reordered = task('t2', 2, { serviceAnnotations: { name: 'web', labels: { tier: 'b', team: 'a' } } });
  log.apply(createAction('task', reordered));
  const t1 = log.store.get('task', 't1')!;
  const t2 = log.store.get('task', 't2')!;
  assert.notEqual(t2.serviceAnnotations, t1.serviceAnnotations);
  assert.equal(encodeTask(t2), encodeTask({ ...reordered, meta: { ...reordered.meta, version: 2 } }));
  assert.deepEqual(Object.keys(t2.serviceAnnotations?.labels ?? {}), ['tier', 'team']);

  // 0 and -0 are equal to === but a float field encodes them apart.
  const zero = baton.UpdateConfig.decode(baton.UpdateConfig.encode({ maxFailureRatio: 0.5 }).finish());
  const fresh = baton.UpdateConfig.decode(baton.UpdateConfig.encode({ maxFailureRatio: -0 }).finish());
  const kept = Object.freeze(baton.UpdateConfig.decode(baton.UpdateConfig.encode({ maxFailureRatio: 0 }).finish()));
  assert.ok(Object.is(shareParts(fresh, kept).maxFailureRatio, -0));
  assert.equal(shareParts(zero, kept), zero);
  // Equal fields of another message type are not that type.
  const meta = baton.Meta.decode(baton.Meta.encode({ id: 'x' }).finish());
  const annotations = Object.freeze(baton.Annotations.decode(baton.Annotations.encode({ name: 'x' }).finish()));
  assert.equal(shareParts(meta, annotations), meta);
});

test('bytes fields are never shared: each read is a fresh copy of the object\'s own bytes', () => {
  const log = new Log();
  const secret = (id: string, name: string): baton.Secret.$Properties => ({ meta: { id }, spec: { annotations: { name }, data: new Uint8Array([1, 2, 3]) } });
  log.apply(createAction('secret', secret('s1', 'a')));
  const s1 = log.store.get('secret', 's1')!;
  const copy = cloneObject('secret', s1);
  copy.spec = { ...copy.spec, annotations: { name: 'a', labels: { l: '1' } } };
  log.apply(updateAction('secret', copy));
  const after = log.store.get('secret', 's1')!;
  const data = after.spec?.data;
  assert.ok(data instanceof Uint8Array);
  assert.deepEqual([...data], [1, 2, 3]);
  data[0] = 9;
  assert.deepEqual([...(after.spec?.data ?? [])], [1, 2, 3]);
  assert.deepEqual(after.spec?.annotations?.labels, { l: '1' });
});

test('a manager that shared differently holds byte-identical contents: snapshot, restore, apply on', () => {
  // One store applies the whole log; another restores a snapshot taken halfway (so its tasks
  // share with other siblings) and applies the rest. Both end with the same bytes.
  const a = new Log();
  const actions: StoreActionT[][] = [];
  for (let i = 1; i <= 6; i++) actions.push([createAction('task', task(`t${i}`, i, { annotations: { name: `web.${i}`, labels: i % 2 ? { b: '1', a: '2' } : { a: '2', b: '1' } } }))]);
  for (const batch of actions.slice(0, 3)) a.apply(...batch);
  const b = new Log(new ClusterStore());
  b.store.restore(a.store.snapshot());
  b.index = a.index;
  for (const batch of actions.slice(3)) {
    a.apply(...batch);
    b.apply(...batch);
  }
  for (const id of ['t1', 't4']) {
    const copy = cloneObject('task', a.store.get('task', id)!);
    copy.status = { state: baton.TaskState.TASK_RUNNING, message: 'started', timestamp: T0 + 9 };
    a.apply(updateAction('task', copy));
    b.apply(updateAction('task', copy));
  }
  const snap = a.store.snapshot();
  assert.equal(Buffer.from(b.store.snapshot()).toString('hex'), Buffer.from(snap).toString('hex'));
  const c = new ClusterStore();
  c.restore(snap);
  assert.equal(Buffer.from(c.snapshot()).toString('hex'), Buffer.from(snap).toString('hex'));
  // Every stored object encodes as the log's own copy of it.
  for (const t of a.store.list('task')) assert.equal(encodeTask(t), encodeTask(b.store.get('task', t.meta.id)!));
});

test('sharing does not read a stored bytes field (its getter copies the bytes on each read)', () => {
  const data = new Uint8Array([7, 7, 7]);
  const fresh = baton.SecretSpec.decode(baton.SecretSpec.encode({ annotations: { name: 'a', labels: { l: '1' } }, data }).finish());
  const keptAnnotations = Object.freeze(baton.Annotations.decode(baton.Annotations.encode({ name: 'a', labels: { l: '1' } }).finish()));
  // A stored spec as freeze.ts leaves it: its bytes field a getter, here one that counts reads.
  let reads = 0;
  const kept = Object.create(Object.getPrototypeOf(fresh) as object) as Record<string, unknown>;
  for (const key of Object.keys(fresh)) {
    if (key === 'data') {
      Object.defineProperty(kept, key, {
        get: () => {
          reads++;
          return new Uint8Array(data);
        },
        enumerable: true,
      });
    } else kept[key] = key === 'annotations' ? keptAnnotations : (fresh as unknown as Record<string, unknown>)[key];
  }
  Object.freeze(kept);
  const shared = shareParts(fresh, kept);
  assert.equal(reads, 0, 'the stored bytes were read (copied) while sharing');
  assert.equal(shared, fresh, 'an object holding bytes is never replaced by the stored one');
  assert.equal(shared.annotations, keptAnnotations, 'its other parts are still shared');
  assert.deepEqual([...(shared.data ?? [])], [7, 7, 7]);
});

test('every stored object encodes to the bytes of the object its write carried, through creates and updates', () => {
  const log = new Log();
  const states = [baton.TaskState.TASK_ASSIGNED, baton.TaskState.TASK_PREPARING, baton.TaskState.TASK_RUNNING, baton.TaskState.TASK_FAILED];
  for (let i = 1; i <= 40; i++) {
    // Every fourth task has its labels in another order, every fifth another spec.
    const labels = i % 4 === 0 ? { tier: 'b', team: 'a' } : { team: 'a', tier: 'b' };
    const spec = i % 5 === 0 ? { ...SPEC, container: { ...SPEC.container, env: ['B=2'] } } : SPEC;
    const t = task(`t${i}`, i, { spec, serviceAnnotations: { name: 'web', labels } });
    log.apply(createAction('task', t));
    assert.equal(encodeTask(log.store.get('task', `t${i}`)!), encodeTask({ ...t, meta: { ...t.meta, version: log.index } }));
  }
  for (let round = 0; round < states.length; round++) {
    for (let i = 1; i <= 40; i += 3) {
      const copy = cloneObject('task', log.store.get('task', `t${i}`)!);
      copy.nodeId = `node${i % 3}`;
      copy.status = { state: states[round], message: round % 2 ? 'started' : '', timestamp: T0 + round };
      const expected = encodeTask({ ...copy, meta: { ...copy.meta, version: log.index + 1 } });
      log.apply(updateAction('task', copy));
      assert.equal(encodeTask(log.store.get('task', `t${i}`)!), expected, `t${i} round ${round}`);
    }
  }
});
