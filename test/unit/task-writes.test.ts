// The leader's per-task writes without a round trip through protobuf: a reconcile pass's task
// copies are shallow (the stored parts they share stay frozen), and object ids come from a pool
// of random bytes. Both must keep what the old way gave: every field of the task carried over,
// the store untouched until the write applies, ids of 25 uniform base36 characters.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { cloneObject, createAction, encodeBatch, newObjectId, updateAction, type Input, type Stored } from '../../manager/store/index.js';
import { LocalHost } from '../../manager/reconcile/local-host.js';
import { TaskWrites } from '../../manager/reconcile/writes.js';

const S = baton.TaskState;

// A task's bytes as the log would carry them.
const encodeTask = (t: Input<'task'>): Uint8Array => encodeBatch([updateAction('task', t)]);

function storedTask(host: LocalHost): Stored<'task'> {
  const id = newObjectId();
  host.apply([
    createAction('task', {
      meta: { id, createdAt: 1, updatedAt: 1 },
      annotations: { name: 'web.1', labels: { a: '1' } },
      serviceId: 's1',
      serviceAnnotations: { name: 'web', labels: { tier: 'front' } },
      slot: 1,
      nodeId: '',
      spec: { container: { image: 'nginx', env: ['A=1'] } },
      specVersion: 3,
      endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] },
      desiredState: S.TASK_RUNNING,
      status: { state: S.TASK_PENDING, message: 'pending', timestamp: 1 },
    }),
  ]);
  const t = host.store.get('task', id);
  assert.ok(t);
  return t;
}

test("a pass's task copy carries every field of the stored task and leaves the store alone", () => {
  const host = new LocalHost();
  const t = storedTask(host);
  const stored = encodeTask(t);
  const writes = new TaskWrites(50);
  const assign = (c: baton.Task): void => {
    c.nodeId = 'n1';
    c.status = { ...c.status, state: S.TASK_ASSIGNED, message: 'assigned to node', timestamp: 50 };
  };
  writes.update(t, assign);
  // What the old way (an encode and decode of the whole task) wrote, byte for byte.
  const expected = cloneObject('task', t);
  expected.meta = { ...expected.meta, updatedAt: 50 };
  assign(expected);
  const [action] = writes.actions();
  assert.ok(action?.object?.task);
  assert.deepEqual(encodeTask(action.object.task), encodeTask(expected));
  assert.deepEqual(encodeTask(t), stored, 'the stored task is unchanged until the write applies');
  host.apply(writes.actions());
  const after = host.store.get('task', t.meta.id);
  assert.equal(after?.nodeId, 'n1');
  assert.equal(after?.status?.state, S.TASK_ASSIGNED);
  assert.deepEqual(after?.spec?.container?.env, ['A=1']);
  assert.deepEqual(after?.endpoint?.ports?.[0]?.publishedPort, 8080);
});

test('a change that writes into a part the copy shares with the store throws, and the store keeps its value', () => {
  const host = new LocalHost();
  const t = storedTask(host);
  const writes = new TaskWrites(50);
  assert.throws(
    () =>
      writes.update(t, (c) => {
        c.annotations!.labels!['b'] = '2';
      }),
    TypeError,
  );
  assert.deepEqual(host.store.get('task', t.meta.id)?.annotations?.labels, { a: '1' });
  // The status is the copy's own: a change may write into it.
  writes.update(t, (c) => {
    c.status!.message = 'no suitable node';
  });
  assert.equal(host.store.get('task', t.meta.id)?.status?.message, 'pending');
  assert.equal(writes.view(t)?.status?.message, 'no suitable node');
  assert.equal(writes.view(t)?.status?.state, S.TASK_PENDING);
});

test('object ids are 25 base36 characters, distinct, each digit as likely at every draw', () => {
  // 40,000 ids: 1,000,000 characters, many refills of the pool of random bytes.
  const ids = Array.from({ length: 40_000 }, () => newObjectId());
  assert.equal(new Set(ids).size, ids.length);
  const counts = new Map<string, number>();
  for (const id of ids) {
    assert.match(id, /^[0-9a-z]{25}$/);
    for (const ch of id) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  assert.equal(counts.size, 36);
  // Uniform: 27,778 each (standard deviation ~164). A modulo bias (bytes 252-255 kept) would
  // give 0-3 12.5% more than the rest; ±5% is 8 standard deviations.
  const expected = (ids.length * 25) / 36;
  for (const [ch, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.05, `digit ${ch}: ${n} of ${expected.toFixed(0)} expected`);
});
