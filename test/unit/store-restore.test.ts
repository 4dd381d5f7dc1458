// A manager that joins late restores a snapshot and applies the entries after it; one that was
// there from the start applied every entry. Both must hold the same store: every object field
// for field (the encoded bytes), every version, every index a read goes through (by service, by
// node, by name), the remembered request ids, and the same answers to the next writes. The log
// below moves tasks between nodes, renames a service, changes a task's status many times (the
// write that moves it in no index), deletes objects, and carries request ids and bytes fields.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { EntryType, type Entry } from '../../raft/core/types.js';
import { KINDS, ClusterStore, cloneObject, createAction, deleteAction, encodeBatch, updateAction, type ApplyResult, type Kind, type StoreActionT } from '../../manager/store/index.js';
import { kindOf, encodeObject } from '../../manager/store/kinds.js';

const T0 = 1_700_000_000_000;
const S = baton.TaskState;

/** Builds the log entry by entry against a store that applies it as it goes (the leader's). */
class LogBuilder {
  readonly entries: Entry[] = [];
  readonly leader = new ClusterStore();
  write(actions: StoreActionT[], requestId = ''): void {
    const entry: Entry = { term: 1, index: this.entries.length + 1, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions, requestId) };
    this.entries.push(entry);
    const r = this.leader.apply(entry);
    if (!r.ok) assert.fail(`entry ${entry.index}: ${r.error.code}: ${r.error.message}`);
  }
  task(id: string): baton.Task {
    return cloneObject('task', this.leader.get('task', id) ?? assert.fail(`no task ${id}`));
  }
}

function spec(image: string): baton.TaskSpec.$Properties {
  return { runtime: 'docker', container: { image, command: ['serve', '--port', '80'], env: ['A=1'], labels: { tier: 'web' } }, resources: { limits: { nanoCpus: 250_000_000 } } };
}

/** Every key a read can go through, over the whole log: names, service ids, node ids, ids. */
interface Keys {
  ids: Map<Kind, Set<string>>;
  names: Set<string>;
  serviceIds: Set<string>;
  nodeIds: Set<string>;
  requestIds: Set<string>;
}

function keysOf(entries: readonly Entry[]): Keys {
  const keys: Keys = { ids: new Map(KINDS.map((k) => [k, new Set<string>()])), names: new Set(), serviceIds: new Set(), nodeIds: new Set(), requestIds: new Set() };
  for (const e of entries) {
    const batch = baton.internal.StoreBatch.decode(e.data);
    if (batch.requestId) keys.requestIds.add(batch.requestId);
    for (const a of batch.actions) {
      const so = a.object as baton.internal.StoreObject;
      const kind = kindOf(so);
      if (kind === undefined) continue;
      const obj = so[kind] as { meta?: { id?: string }; spec?: { annotations?: { name?: string } }; serviceId?: string; nodeId?: string; description?: { hostname?: string } };
      keys.ids.get(kind)!.add(obj.meta?.id ?? '');
      for (const n of [obj.spec?.annotations?.name, obj.description?.hostname]) if (n) keys.names.add(n).add(n.toUpperCase());
      if (kind === 'task') {
        keys.serviceIds.add(obj.serviceId ?? '');
        keys.nodeIds.add(obj.nodeId ?? '');
      }
    }
  }
  return keys;
}

const ids = (objs: readonly { meta: { id: string } }[]): string[] => objs.map((o) => o.meta.id);

/** Asserts that `got` holds what `want` holds, object by object and index by index. */
function assertSameStore(got: ClusterStore, want: ClusterStore, keys: Keys, what: string): void {
  assert.deepEqual(got.snapshot(), want.snapshot(), `${what}: snapshot bytes`);
  for (const kind of KINDS) {
    assert.equal(got.count(kind), want.count(kind), `${what}: ${kind} count`);
    for (const id of keys.ids.get(kind)!) {
      const [g, w] = [got.get(kind, id), want.get(kind, id)];
      assert.equal(g === undefined, w === undefined, `${what}: ${kind} ${id} present on one side only`);
      if (g === undefined || w === undefined) continue;
      assert.deepEqual(encodeObject(kind, g), encodeObject(kind, w), `${what}: ${kind} ${id} fields`);
      assert.equal(g.meta.version, w.meta.version, `${what}: ${kind} ${id} version`);
    }
    for (const name of keys.names) assert.deepEqual(ids(got.list(kind, { names: [name] })), ids(want.list(kind, { names: [name] })), `${what}: ${kind} named ${name}`);
  }
  for (const s of keys.serviceIds) assert.deepEqual(ids(got.list('task', { serviceIds: [s] })), ids(want.list('task', { serviceIds: [s] })), `${what}: tasks of service ${s}`);
  for (const n of keys.nodeIds) assert.deepEqual(ids(got.list('task', { nodeIds: [n] })), ids(want.list('task', { nodeIds: [n] })), `${what}: tasks on node "${n}"`);
  for (const r of keys.requestIds) assert.equal(got.hasApplied(r), want.hasApplied(r), `${what}: request ${r} remembered`);
}

function buildLog(): LogBuilder {
  const log = new LogBuilder();
  log.write([1, 2, 3].map((i) => createAction('node', { meta: { id: `n${i}`, createdAt: T0 }, description: { hostname: `host-${i}` }, spec: { annotations: { name: i === 3 ? '' : `node-${i}` } } })));
  log.write([createAction('secret', { meta: { id: 'sec', createdAt: T0 }, spec: { annotations: { name: 'pw' }, data: new Uint8Array([1, 2, 3]) } })], 'req-secret');
  for (const [sid, name, image] of [['s-web', 'web', 'nginx:1'], ['s-db', 'db', 'pg:16']] as const) {
    log.write([createAction('service', { meta: { id: sid, createdAt: T0 }, spec: { annotations: { name, labels: { app: name } }, replicas: 4, task: spec(image) } })], `req-${sid}`);
  }
  // Tasks created unassigned, in two batches per service, as the orchestrator writes them.
  for (const sid of ['s-web', 's-db']) {
    const svc = log.leader.get('service', sid)!;
    for (const slots of [[1, 2], [3, 4]]) {
      log.write(slots.map((slot) => createAction('task', { meta: { id: `${sid}.${slot}`, createdAt: T0 + slot }, serviceId: sid, slot, nodeId: '', spec: svc.spec?.task, specVersion: 1, serviceAnnotations: svc.spec?.annotations, desiredState: S.TASK_RUNNING, status: { state: S.TASK_PENDING, message: 'pending', timestamp: T0 } })));
    }
  }
  const taskIds = ['s-web', 's-db'].flatMap((sid) => [1, 2, 3, 4].map((slot) => `${sid}.${slot}`));
  // Assigned (a move out of node ''), then reported through every state (moves in no index).
  log.write(taskIds.map((id, i) => updateAction('task', { ...log.task(id), nodeId: `n${(i % 3) + 1}`, status: { state: S.TASK_ASSIGNED, message: 'assigned', timestamp: T0 + 1 } })));
  for (const [state, message] of [[S.TASK_PREPARING, 'preparing'], [S.TASK_STARTING, 'starting'], [S.TASK_RUNNING, 'started']] as const) {
    for (const id of taskIds) log.write([updateAction('task', { ...log.task(id), status: { state, message, timestamp: T0 + 2 } })]);
  }
  // A task moves to another node; a service is renamed; a node renamed; a task and a node deleted.
  log.write([updateAction('task', { ...log.task('s-web.1'), nodeId: 'n3' })], 'req-move');
  const web = cloneObject('service', log.leader.get('service', 's-web')!);
  log.write([updateAction('service', { ...web, spec: { ...web.spec, annotations: { name: 'frontend' } } })], 'req-rename');
  const n2 = cloneObject('node', log.leader.get('node', 'n2')!);
  log.write([updateAction('node', { ...n2, spec: { ...n2.spec, annotations: { name: 'node-two' } } })]);
  log.write([deleteAction('task', log.task('s-db.4')), deleteAction('node', { meta: { id: 'n1' } })], 'req-delete');
  // A replacement task of the new name's service, created after the rename.
  const renamed = log.leader.get('service', 's-web')!;
  log.write([createAction('task', { meta: { id: 's-web.5', createdAt: T0 + 9 }, serviceId: 's-web', slot: 5, nodeId: 'n2', spec: renamed.spec?.task, specVersion: 2, serviceAnnotations: renamed.spec?.annotations, desiredState: S.TASK_RUNNING, status: { state: S.TASK_RUNNING, message: 'started', timestamp: T0 + 9 } })]);
  return log;
}

test('a store restored from a snapshot, then given the entries after it, holds what applying the whole log gives', () => {
  const log = buildLog();
  const keys = keysOf(log.entries);
  const whole = new ClusterStore();
  for (const e of log.entries) assert.ok(whole.apply(e).ok);
  assertSameStore(whole, log.leader, keys, 'the whole log applied again');
  // A snapshot at every point of the log: the restored store, then the tail, then compared.
  for (let at = 0; at <= log.entries.length; at++) {
    const upTo = new ClusterStore();
    for (const e of log.entries.slice(0, at)) upTo.apply(e);
    const joined = new ClusterStore();
    joined.restore(upTo.snapshot());
    assertSameStore(joined, upTo, keys, `restored at ${at}`);
    for (const e of log.entries.slice(at)) assert.ok(joined.apply(e).ok, `entry ${e.index} after a snapshot at ${at}`);
    assertSameStore(joined, whole, keys, `snapshot at ${at}, then the tail`);
  }
});

test('after a restore, the next writes get the answers they get from a store that applied the log', () => {
  const log = buildLog();
  const whole = new ClusterStore();
  for (const e of log.entries) whole.apply(e);
  const joined = new ClusterStore();
  joined.restore(whole.snapshot());
  const next = log.entries.length + 1;
  const writes: { data: Uint8Array; why: string }[] = [
    { data: encodeBatch([createAction('service', { meta: { id: 's-x' }, spec: { annotations: { name: 'FRONTEND' } } })]), why: 'the new name is taken, ignoring case' },
    { data: encodeBatch([createAction('service', { meta: { id: 's-y' }, spec: { annotations: { name: 'web' } } })]), why: 'the old name is free' },
    { data: encodeBatch([updateAction('task', { ...cloneObject('task', whole.get('task', 's-web.2')!), meta: { id: 's-web.2', version: 1 } })]), why: 'a stale version' },
    { data: encodeBatch([createAction('secret', { meta: { id: 'sec2' }, spec: { annotations: { name: 'other' } } })], 'req-secret'), why: 'a request id applied before' },
  ];
  writes.forEach(({ data, why }, i) => {
    const entry: Entry = { term: 1, index: next + i, type: EntryType.ENTRY_NORMAL, data };
    const answer = (r: ApplyResult): string[] | string => (r.ok ? r.objects.map((o) => o.object.meta.id) : r.error.code);
    assert.deepEqual(answer(joined.apply(entry)), answer(whole.apply(entry)), why);
  });
  assert.deepEqual(joined.snapshot(), whole.snapshot());
  assert.deepEqual(ids(joined.list('service', { names: ['web'] })), ['s-y']);
});
