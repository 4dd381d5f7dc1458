// The store reads a task's spec, endpoint and service annotations from an entry's bytes only when
// they differ from the stored ones (manager/store/batch-reader.ts). What it stores must be what
// the generated decoder makes of the same bytes, however they are laid out, and a store restored
// from a snapshot (no bytes known for its parts) must apply the log alike.
import test from 'node:test';
import assert from 'node:assert/strict';
import $protobuf from 'protobufjs/minimal.js';
import { baton } from '../../proto/gen/baton.js';
import { EntryType } from '../../raft/core/types.js';
import { ClusterStore, createAction, encodeBatch, updateAction, type ApplyResult, type StoreActionT, type Stored } from '../../manager/store/index.js';

const T0 = 1_700_000_000_000;
const SPEC: baton.TaskSpec.$Properties = {
  runtime: 'docker',
  container: { image: 'registry.example.com/api:1.2', command: ['serve'], env: ['A=1', 'B=2'], labels: { x: '1' } },
  restart: { delayMs: 5_000 },
};

function task(id: string, slot: number, o: Partial<baton.Task.$Properties> = {}): baton.Task.$Properties {
  return {
    meta: { id, createdAt: T0 + slot, updatedAt: T0 + slot },
    serviceId: 'svc1',
    slot,
    spec: SPEC,
    endpoint: { expose: [{ targetPort: 80 }] },
    annotations: { name: `web.${slot}` },
    serviceAnnotations: { name: 'web', labels: { team: 'a' } },
    desiredState: baton.TaskState.TASK_RUNNING,
    status: { state: baton.TaskState.TASK_PENDING, message: 'pending task scheduling', timestamp: T0 },
    ...o,
  };
}

class Log {
  index = 0;
  constructor(readonly store = new ClusterStore()) {}
  applyBytes(data: Uint8Array): ApplyResult {
    const r = this.store.apply({ term: 1, index: ++this.index, type: EntryType.ENTRY_NORMAL, data });
    if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
    return r;
  }
  apply(...actions: StoreActionT[]): ApplyResult {
    return this.applyBytes(encodeBatch(actions));
  }
}

const hex = (t: baton.Task.$Properties | Stored<'task'>): string => Buffer.from(baton.Task.encode(t as baton.Task.$Properties).finish()).toString('hex');

/** Counts the generated decoder's calls for the parts the store can take from the bytes. */
function countPartDecodes<T>(run: () => T): { result: T; decodes: number } {
  const types = [baton.TaskSpec, baton.Endpoint, baton.Annotations] as unknown as { decode: (...a: unknown[]) => unknown }[];
  const originals = types.map((t) => t.decode);
  let decodes = 0;
  types.forEach((t, i) => {
    t.decode = (...a: unknown[]) => {
      decodes++;
      return originals[i]!.apply(t, a);
    };
  });
  try {
    return { result: run(), decodes };
  } finally {
    types.forEach((t, i) => (t.decode = originals[i]!));
  }
}

const LD = 2;
/** A field of wire type 2 (length-delimited) with these bytes. */
function field(n: number, bytes: Uint8Array): Uint8Array {
  return $protobuf.Writer.create().uint32((n << 3) | LD).bytes(bytes).finish();
}
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const encoded = <T>(codec: { encode(m: T): { finish(): Uint8Array } }, m: T): Uint8Array => codec.encode(m).finish();
/** A batch of one update action whose StoreObject holds `taskBytes` as its task (field 4). */
function updateBatch(taskBytes: Uint8Array, extra: { action?: Uint8Array; object?: Uint8Array } = {}): Uint8Array {
  const object = concat(field(4, taskBytes), extra.object ?? new Uint8Array());
  const action = concat(encoded(baton.internal.StoreAction, { kind: baton.internal.StoreActionKind.STORE_UPDATE }), field(2, object), extra.action ?? new Uint8Array());
  return field(1, action);
}

test('a task whose spec, endpoint and service annotations are the stored bytes does not decode them again', () => {
  const log = new Log();
  const first = countPartDecodes(() => log.apply(createAction('task', task('t1', 1))));
  // The first task of a service has nothing stored to take its parts from.
  assert.equal(first.decodes, 4, 'spec, endpoint, annotations, service annotations');
  const more = countPartDecodes(() => {
    log.apply(createAction('task', task('t2', 2)), createAction('task', task('t3', 3)));
    const t1 = log.store.get('task', 't1')!;
    log.apply(updateAction('task', { ...(t1 as baton.Task), status: { state: baton.TaskState.TASK_RUNNING, timestamp: T0 + 9 } }));
  });
  // A task's own annotations (its name) are not a part tasks share: decoded every time.
  assert.equal(more.decodes, 3, 'the annotations of t2, t3 and t1 (their own), nothing of the spec, endpoint or service annotations');
  const [t1, t2, t3] = ['t1', 't2', 't3'].map((id) => log.store.get('task', id)!);
  assert.equal(t2!.spec, t1!.spec);
  assert.equal(t3!.endpoint, t1!.endpoint);
  assert.equal(t3!.serviceAnnotations, t1!.serviceAnnotations);
  assert.equal(t1!.status?.state, baton.TaskState.TASK_RUNNING);
  assert.equal(hex(t2!), hex({ ...task('t2', 2), meta: { id: 't2', createdAt: T0 + 2, updatedAt: T0 + 2, version: 2 } }));
});

test('whatever the layout of a task in the entry, the store holds what the generated decoder makes of it', () => {
  const log = new Log();
  log.apply(createAction('task', task('t1', 1)), createAction('task', task('t2', 2)));
  const spec = encoded(baton.TaskSpec, SPEC);
  const otherSpec = encoded(baton.TaskSpec, { ...SPEC, runtime: 'process' });
  const rest = encoded(baton.Task, { ...task('t1', 1), meta: null, spec: null });
  // Each layout's meta carries the version t1 has when that layout is applied (two entries a layout).
  const layouts: [string, (meta: Uint8Array) => Uint8Array, { action?: Uint8Array; object?: Uint8Array }?][] = [
    ['in field order', (meta) => concat(field(1, meta), field(5, spec), rest)],
    ['the spec before the id', (meta) => concat(field(5, spec), field(1, meta), rest)],
    ['the spec twice, merged', (meta) => concat(field(1, meta), field(5, spec), field(5, otherSpec), rest)],
    ['an unknown field in the task', (meta) => concat(field(1, meta), field(5, spec), rest, field(99, Uint8Array.of(1, 2)))],
    ['an unknown field in the action', (meta) => concat(field(1, meta), field(5, spec), rest), { action: field(9, Uint8Array.of(7)) }],
    ['a second object in the StoreObject', (meta) => concat(field(1, meta), field(5, spec), rest), { object: field(4, encoded(baton.Task, { nodeId: 'n9' })) }],
  ];
  for (const [name, layout, extra] of layouts) {
    const before = log.store.get('task', 't1')!;
    const data = updateBatch(layout(encoded(baton.Meta, { id: 't1', version: before.meta.version, createdAt: T0 + 1 })), extra);
    log.applyBytes(data);
    // The generated decoder's reading of the same entry, with what apply() sets itself.
    const want = baton.internal.StoreBatch.decode(data).actions[0]!.object!.task!;
    want.meta!.version = log.index;
    want.meta!.createdAt = before.meta.createdAt;
    const got = log.store.get('task', 't1')!;
    assert.equal(hex(got), hex(want), name);
    // Put t1 back as it was, for the next layout.
    log.apply(updateAction('task', { ...task('t1', 1), meta: { id: 't1', version: log.index, createdAt: T0 + 1, updatedAt: T0 + 1 } }));
  }
});

test('a store restored from a snapshot applies later entries alike, and takes the parts from the bytes after one write', () => {
  const leader = new Log();
  leader.apply(createAction('task', task('t1', 1)), createAction('task', task('t2', 2)));
  const follower = new Log(new ClusterStore());
  follower.store.restore(leader.store.snapshot());
  follower.index = leader.index;
  const restored = follower.store.get('task', 't1')!;
  const status = (id: string, at: number): StoreActionT => {
    const t = leader.store.get('task', id)!;
    return updateAction('task', { ...(t as baton.Task), status: { state: baton.TaskState.TASK_RUNNING, timestamp: at } });
  };
  for (const [id, at] of [['t1', 1], ['t2', 2]] as const) {
    const data = encodeBatch([status(id, T0 + at)]);
    leader.applyBytes(data);
    follower.applyBytes(data);
  }
  assert.equal(follower.store.snapshot().length, leader.store.snapshot().length);
  assert.deepEqual(Buffer.from(follower.store.snapshot()), Buffer.from(leader.store.snapshot()));
  assert.equal(follower.store.get('task', 't1')!.spec, restored.spec, 'shared with the restored task');
  const again = encodeBatch([status('t1', T0 + 3)]);
  leader.applyBytes(again);
  const { decodes } = countPartDecodes(() => follower.applyBytes(again));
  assert.equal(decodes, 1, "only t1's own annotations: the parts' bytes are known since its first write");
  assert.deepEqual(Buffer.from(follower.store.snapshot()), Buffer.from(leader.store.snapshot()));
});
