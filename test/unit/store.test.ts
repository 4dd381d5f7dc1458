// The cluster store fed by hand-built Raft entries: no Raft needed, apply() is the only way in.
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import { EntryType } from '../../raft/core/types.js';
import {
  ClusterStore,
  StoreError,
  WatchOverflowError,
  cloneObject,
  createAction,
  deleteAction,
  encodeBatch,
  updateAction,
  type ApplyResult,
  type StoreActionT,
  type StoreEvent,
  type StoreErrorCode,
} from '../../manager/store/index.js';

/** Feeds a store consecutive committed entries, as the Raft driver would. */
class Log {
  index = 0;
  constructor(readonly store = new ClusterStore()) {}
  apply(...actions: StoreActionT[]): ApplyResult {
    this.index++;
    return this.store.apply({ term: 1, index: this.index, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions, `req-${this.index}`) });
  }
}

const T0 = 1_700_000_000_000;

function service(id: string, name: string, labels: Record<string, string> = {}): baton.Service.$Properties {
  return {
    meta: { id, createdAt: T0, updatedAt: T0 },
    spec: { annotations: { name, labels }, task: { container: { image: 'nginx', command: ['nginx'] }, runtime: 'docker' }, replicas: 2 },
  };
}

function node(id: string, hostname: string, labels: Record<string, string> = {}): baton.Node.$Properties {
  return { meta: { id, createdAt: T0, updatedAt: T0 }, spec: { annotations: { labels } }, description: { hostname } };
}

function task(id: string, serviceId: string, nodeId: string, desiredState = baton.TaskState.TASK_RUNNING): baton.Task.$Properties {
  return { meta: { id, createdAt: T0, updatedAt: T0 }, serviceId, nodeId, desiredState, slot: 1, status: { state: baton.TaskState.TASK_NEW } };
}

function secret(id: string, name: string, data: number[]): baton.Secret.$Properties {
  return { meta: { id, createdAt: T0, updatedAt: T0 }, spec: { annotations: { name }, data: new Uint8Array(data) } };
}

function ok(r: ApplyResult, why = 'expected the batch to apply'): Extract<ApplyResult, { ok: true }> {
  if (!r.ok) assert.fail(`${why}, got ${r.error.code}: ${r.error.message}`);
  return r;
}

function failed(r: ApplyResult, code: StoreErrorCode): StoreError {
  if (r.ok) assert.fail(`expected ${code}, the batch applied`);
  assert.ok(r.error instanceof StoreError);
  assert.equal(r.error.code, code, r.error.message);
  return r.error;
}

const ids = (objs: readonly { meta: { id: string } }[]): string[] => objs.map((o) => o.meta.id);

/** A small cluster: 2 nodes, 2 services, 4 tasks. */
function seeded(): Log {
  const log = new Log();
  ok(log.apply(createAction('node', node('n1', 'alpha', { zone: 'a', ssd: 'true' })), createAction('node', node('n2', 'beta', { zone: 'b' }))));
  ok(log.apply(createAction('service', service('s-web', 'web', { tier: 'front' })), createAction('service', service('s-db', 'db', { tier: 'back' }))));
  ok(
    log.apply(
      createAction('task', task('t1', 's-web', 'n1')),
      createAction('task', task('t2', 's-web', 'n2')),
      createAction('task', task('t3', 's-db', 'n1', baton.TaskState.TASK_SHUTDOWN)),
      createAction('task', task('t4', 's-db', '')),
    ),
  );
  return log;
}

test('create sets meta.version to the entry index and keeps the proposer timestamps', () => {
  const log = new Log();
  const r = ok(log.apply(createAction('service', service('abc', 'web'))));
  assert.equal(r.index, 1);
  assert.equal(r.objects.length, 1);
  assert.equal(r.objects[0]?.kind, 'service');
  const svc = log.store.get('service', 'abc');
  assert.ok(svc);
  assert.equal(svc.meta.version, 1);
  assert.equal(svc.meta.createdAt, T0);
  assert.equal(svc.meta.updatedAt, T0);
  assert.equal(svc.spec?.annotations?.name, 'web');
  assert.deepEqual(svc.spec?.task?.container?.command, ['nginx']);
  assert.equal(r.objects[0]?.object, svc);
  assert.equal(log.store.get('service', 'nope'), undefined);
  assert.equal(log.store.get('node', 'abc'), undefined, 'kinds are separate tables');
});

test('list returns objects in id order and filters by id prefix, name, label and task fields', () => {
  const { store } = seeded();
  assert.deepEqual(ids(store.list('task')), ['t1', 't2', 't3', 't4']);
  assert.deepEqual(ids(store.list('service')), ['s-db', 's-web']);
  assert.equal(store.count('task'), 4);
  assert.deepEqual(ids(store.list('service', { ids: ['s-w'] })), ['s-web']);
  assert.deepEqual(ids(store.list('service', { ids: ['s-'] })), ['s-db', 's-web']);
  assert.deepEqual(ids(store.list('service', { names: ['WEB'] })), ['s-web']);
  assert.deepEqual(ids(store.list('service', { namePrefixes: ['d'] })), ['s-db']);
  assert.deepEqual(ids(store.list('node', { names: ['beta'] })), ['n2'], 'a node goes by its hostname');
  assert.deepEqual(ids(store.list('node', { labels: ['zone'] })), ['n1', 'n2']);
  assert.deepEqual(ids(store.list('node', { labels: ['zone=a'] })), ['n1']);
  assert.deepEqual(ids(store.list('node', { labels: ['zone', 'ssd=true'] })), ['n1']);
  assert.deepEqual(ids(store.list('node', { labels: ['zone='] })), []);
  assert.deepEqual(ids(store.list('task', { serviceIds: ['s-web'] })), ['t1', 't2']);
  assert.deepEqual(ids(store.list('task', { serviceIds: ['s-web', 's-db', 's-web'] })), ['t1', 't2', 't3', 't4']);
  assert.deepEqual(ids(store.list('task', { nodeIds: ['n1'] })), ['t1', 't3']);
  assert.deepEqual(ids(store.list('task', { nodeIds: [''] })), ['t4'], 'unassigned tasks are under node ""');
  assert.deepEqual(ids(store.list('task', { desiredStates: [baton.TaskState.TASK_RUNNING] })), ['t1', 't2', 't4']);
  assert.deepEqual(ids(store.list('task', { serviceIds: ['s-db'], nodeIds: ['n1'] })), ['t3']);
  assert.deepEqual(ids(store.list('task', { serviceIds: ['s-db'], desiredStates: [baton.TaskState.TASK_RUNNING] })), ['t4']);
  assert.deepEqual(ids(store.list('service', { serviceIds: ['s-web'] })), [], 'a task filter matches no other kind');
  assert.deepEqual(ids(store.list('task', { labels: ['x'] })), []);
});

test('resolve: exact id, then exact name, then a unique id prefix, the Docker way', () => {
  const log = seeded();
  const { store } = log;
  assert.equal(store.resolve('service', 's-web').meta.id, 's-web');
  assert.equal(store.resolve('service', 'Web').meta.id, 's-web');
  assert.equal(store.resolve('service', 's-w').meta.id, 's-web');
  assert.equal(store.resolve('node', 'alpha').meta.id, 'n1');
  assert.equal(store.findByName('service', 'db')?.meta.id, 's-db');
  assert.equal(store.findByName('service', 'nope'), undefined);

  assert.throws(() => store.resolve('service', 's-'), (e: unknown) => {
    assert.ok(e instanceof StoreError);
    assert.equal(e.code, 'INVALID');
    assert.match(e.message, /ambiguous/);
    assert.match(e.message, /s-db, s-web/);
    return true;
  });
  assert.throws(() => store.resolve('service', 'zzz'), (e: unknown) => e instanceof StoreError && e.code === 'NOT_FOUND');
  assert.throws(() => store.resolve('service', ''), (e: unknown) => e instanceof StoreError && e.code === 'INVALID');

  // An id wins over a name that looks like it; a name wins over a prefix.
  ok(log.apply(createAction('service', service('web', 'other'))));
  assert.equal(store.resolve('service', 'web').meta.id, 'web');
  assert.equal(store.resolve('service', 'other').meta.id, 'web');

  // Node names may repeat: looking one up by a shared name is ambiguous, by id it is not.
  ok(log.apply(createAction('node', node('n3', 'alpha'))));
  assert.throws(() => store.resolve('node', 'alpha'), (e: unknown) => e instanceof StoreError && e.code === 'INVALID' && /n1, n3/.test(e.message));
  assert.equal(store.resolve('node', 'n3').meta.id, 'n3');
});

test('names are unique per kind (ignoring case) except for nodes; ids are unique', () => {
  const log = seeded();
  const { store } = log;
  let err = failed(log.apply(createAction('service', service('s-2', 'WEB'))), 'ALREADY_EXISTS');
  assert.match(err.message, /name "WEB" is already taken by service s-web/);
  failed(log.apply(createAction('service', service('s-web', 'fresh'))), 'ALREADY_EXISTS');
  failed(log.apply(createAction('service', service('s-3', ''))), 'INVALID');
  failed(log.apply(createAction('service', { spec: { annotations: { name: 'x' } } })), 'INVALID');
  ok(log.apply(createAction('secret', secret('sec1', 'web', [1]))), 'the same name in another kind is fine');
  ok(log.apply(createAction('node', node('n9', 'alpha'))), 'node names may repeat');

  // Renaming onto a taken name fails; keeping or changing one's own name does not.
  const db = cloneObject('service', store.get('service', 's-db') ?? assert.fail());
  db.spec = { ...db.spec, annotations: { name: 'web' } };
  err = failed(log.apply(updateAction('service', db)), 'ALREADY_EXISTS');
  db.spec.annotations = { name: 'DB' };
  ok(log.apply(updateAction('service', db)));
  assert.equal(store.findByName('service', 'db')?.meta.id, 's-db');

  // A deleted object's name is free again, and the old name of a renamed one too.
  ok(log.apply(deleteAction('service', { meta: { id: 's-web' } })));
  ok(log.apply(createAction('service', service('s-new', 'web'))));
  assert.equal(store.resolve('service', 'web').meta.id, 's-new');
});

test('two racing updates from the same read: the first wins, the second gets VERSION_CONFLICT, nothing is lost', () => {
  const log = seeded();
  const { store } = log;
  const read = store.get('task', 't1') ?? assert.fail();
  const a = cloneObject('task', read);
  const b = cloneObject('task', read);
  a.status = { state: baton.TaskState.TASK_RUNNING, message: 'from a', timestamp: T0 + 1 };
  a.meta = { ...a.meta, updatedAt: T0 + 1 };
  b.nodeId = 'n2';
  const first = ok(log.apply(updateAction('task', a)));
  const err = failed(log.apply(updateAction('task', b)), 'VERSION_CONFLICT');
  assert.equal(err.message, `update of task t1: version ${read.meta.version} is stale, current is ${first.index}`);
  const now = store.get('task', 't1') ?? assert.fail();
  assert.equal(now.status?.message, 'from a');
  assert.equal(now.nodeId, 'n1');
  assert.equal(now.meta.version, first.index);
  assert.equal(now.meta.createdAt, T0, 'created_at is kept');
  assert.equal(now.meta.updatedAt, T0 + 1);
  assert.deepEqual(ids(store.list('task', { nodeIds: ['n2'] })), ['t2'], 'the losing move left no trace in the indexes');

  // Re-read and retry: the second writer now succeeds.
  const retry = cloneObject('task', now);
  retry.nodeId = 'n2';
  ok(log.apply(updateAction('task', retry)));
  assert.deepEqual(ids(store.list('task', { nodeIds: ['n2'] })), ['t1', 't2']);
  assert.equal(store.get('task', 't1')?.status?.message, 'from a');

  failed(log.apply(updateAction('task', task('ghost', 's-web', 'n1'))), 'NOT_FOUND');
  const zero = cloneObject('task', store.get('task', 't2') ?? assert.fail());
  zero.meta = { ...zero.meta, version: 0 };
  failed(log.apply(updateAction('task', zero)), 'VERSION_CONFLICT');
});

test('a batch is atomic: when a later action fails, the earlier ones are undone', () => {
  const log = seeded();
  const { store } = log;
  const before = store.snapshot();
  const moved = cloneObject('task', store.get('task', 't1') ?? assert.fail());
  moved.nodeId = 'n2';
  const renamed = cloneObject('service', store.get('service', 's-db') ?? assert.fail());
  renamed.spec = { ...renamed.spec, annotations: { name: 'database' } };
  const r = log.apply(
    createAction('service', service('s-new', 'new')),
    updateAction('task', moved),
    deleteAction('task', { meta: { id: 't3' } }),
    updateAction('service', renamed),
    createAction('service', service('s-new2', 'web')), // name taken: fails the batch
  );
  failed(r, 'ALREADY_EXISTS');
  assert.deepEqual(store.snapshot(), before);
  assert.equal(store.get('service', 's-new'), undefined);
  assert.equal(store.findByName('service', 'new'), undefined);
  assert.equal(store.findByName('service', 'database'), undefined);
  assert.equal(store.findByName('service', 'db')?.meta.id, 's-db');
  assert.deepEqual(ids(store.list('task', { nodeIds: ['n1'] })), ['t1', 't3']);
  assert.deepEqual(ids(store.list('task', { serviceIds: ['s-db'] })), ['t3', 't4']);

  // Actions see the effect of earlier actions of the same batch.
  const created = ok(log.apply(createAction('config', { meta: { id: 'c1' }, spec: { annotations: { name: 'cfg' } } }), deleteAction('config', { meta: { id: 'c1', version: log.index + 1 } })));
  assert.deepEqual(created.objects.map((o) => o.kind), ['config', 'config']);
  assert.equal(store.get('config', 'c1'), undefined);
  ok(log.apply());
});

test('delete: stale version is a conflict, version 0 deletes unconditionally, absent is NOT_FOUND', () => {
  const log = seeded();
  const { store } = log;
  const svc = store.get('service', 's-web') ?? assert.fail();
  const upd = cloneObject('service', svc);
  upd.spec = { ...upd.spec, replicas: 5 };
  ok(log.apply(updateAction('service', upd)));
  const err = failed(log.apply(deleteAction('service', svc)), 'VERSION_CONFLICT');
  assert.match(err.message, /^delete of service s-web: version \d+ is stale, current is \d+$/);
  assert.ok(store.get('service', 's-web'));
  const current = store.get('service', 's-web') ?? assert.fail();
  const del = ok(log.apply(deleteAction('service', current)));
  assert.equal(del.objects[0]?.object, current, 'a delete returns the object as it was');
  assert.equal(store.get('service', 's-web'), undefined);
  ok(log.apply(deleteAction('task', { meta: { id: 't1' } })));
  assert.deepEqual(ids(store.list('task', { serviceIds: ['s-web'] })), ['t2']);
  failed(log.apply(deleteAction('task', { meta: { id: 't1' } })), 'NOT_FOUND');
});

test('malformed batches: INVALID results, and only undecodable data throws', () => {
  const log = seeded();
  failed(log.apply({ kind: baton.internal.StoreActionKind.STORE_CREATE, object: {} }), 'INVALID');
  failed(log.apply({ kind: 7 as baton.internal.StoreActionKind, object: { task: task('t9', 's', 'n') } }), 'INVALID');
  failed(log.apply(createAction('task', { serviceId: 's' })), 'INVALID');
  assert.throws(() => log.store.apply({ term: 1, index: 99, type: EntryType.ENTRY_NORMAL, data: new Uint8Array([0x0a, 0xff, 0xff]) }));
  assert.equal(log.store.count('task'), 4);
});

test('watch: changes in log order, after the batch, with old objects on update; failed batches emit nothing', async () => {
  const log = seeded();
  const { store } = log;
  const seen: string[] = [];
  const unsubscribe = store.onChange((e) => {
    if (e.action === 'reset') return;
    // The batch is fully applied when listeners run.
    seen.push(`${e.action} ${e.kind} ${e.object.meta.id} @${e.index} tasks=${store.count('task')}`);
  });
  const onlyTasksOnN1: StoreEvent[] = [];
  store.onChange((e) => onlyTasksOnN1.push(e), { kinds: ['task'], nodeIds: ['n1'] });
  const it = store.watch({ kinds: ['task'] });

  const moved = cloneObject('task', store.get('task', 't1') ?? assert.fail());
  moved.nodeId = 'n2';
  ok(log.apply(createAction('task', task('t5', 's-web', 'n1')), updateAction('task', moved)));
  failed(log.apply(createAction('task', task('t5', 's-web', 'n1'))), 'ALREADY_EXISTS');
  ok(log.apply(deleteAction('task', { meta: { id: 't2' } }), createAction('secret', secret('x', 'x', [1]))));
  assert.deepEqual(seen, [
    'create task t5 @4 tasks=5',
    'update task t1 @4 tasks=5',
    'delete task t2 @6 tasks=4',
    'create secret x @6 tasks=4',
  ]);
  // t1 moved off n1: a watcher of n1 still hears of it (through `old`).
  assert.deepEqual(
    onlyTasksOnN1.map((e) => (e.action === 'reset' ? 'reset' : `${e.action} ${e.object.meta.id} ${e.kind === 'task' ? e.object.nodeId : ''} old=${e.kind === 'task' ? (e.old?.nodeId ?? '-') : ''}`)),
    ['create t5 n1 old=-', 'update t1 n2 old=n1'],
  );

  const got: string[] = [];
  for await (const e of it) {
    got.push(e.action === 'reset' ? 'reset' : `${e.action} ${e.object.meta.id}`);
    if (got.length === 3) break; // leaving the loop closes the watch
  }
  assert.deepEqual(got, ['create t5', 'update t1', 'delete t2']);
  assert.equal(it.pending, 0);

  unsubscribe();
  ok(log.apply(deleteAction('task', { meta: { id: 't5' } })));
  assert.equal(seen.length, 4, 'an unsubscribed listener hears nothing');
});

test('watch: a waiting consumer is woken, a consumer too far behind gets WatchOverflowError', async () => {
  const log = seeded();
  const w = log.store.watch(undefined, { bufferSize: 3 });
  const next = w.next();
  ok(log.apply(createAction('node', node('n7', 'n7'))));
  const first = await next;
  assert.equal(first.done, false);
  assert.equal(first.value?.action, 'create');

  for (let i = 0; i < 4; i++) ok(log.apply(createAction('node', node(`m${i}`, `m${i}`))));
  await assert.rejects(w.next(), (e: unknown) => e instanceof WatchOverflowError && e.limit === 3);
  assert.deepEqual(await w.next(), { value: undefined, done: true });
  ok(log.apply(createAction('node', node('late', 'late'))));
  assert.equal(w.pending, 0, 'a failed watch is unsubscribed');

  const closed = log.store.watch();
  const waiting = closed.next();
  closed.close();
  assert.deepEqual(await waiting, { value: undefined, done: true });
});

test('a throwing listener does not break apply or other listeners', () => {
  const errors: unknown[] = [];
  const log = new Log(new ClusterStore({ onListenerError: (e) => errors.push(e) }));
  const heard: string[] = [];
  log.store.onChange(() => {
    throw new Error('listener bug');
  });
  log.store.onChange((e) => heard.push(e.action));
  ok(log.apply(createAction('node', node('n1', 'a'))));
  assert.deepEqual(heard, ['create']);
  assert.equal(errors.length, 1);
  assert.ok(log.store.get('node', 'n1'));
});

test('snapshot → restore into a fresh store: equal contents, indexes and bytes; watchers get a reset', () => {
  const log = seeded();
  ok(log.apply(createAction('secret', secret('sec', 'pw', [1, 2, 3])), createAction('cluster', { meta: { id: 'c' }, spec: { annotations: { name: 'default' }, heartbeatPeriodMs: 1000 } })));
  const data = log.store.snapshot();
  const fresh = new ClusterStore();
  ok(new Log(fresh).apply(createAction('service', service('old', 'leftover'))));
  const events: string[] = [];
  fresh.onChange((e) => events.push(e.action));
  fresh.restore(data);
  assert.deepEqual(events, ['reset']);
  assert.deepEqual(fresh.snapshot(), data);
  assert.equal(fresh.get('service', 'old'), undefined, 'restore replaces everything');
  for (const kind of ['cluster', 'node', 'service', 'task', 'secret', 'config'] as const) {
    assert.deepEqual(fresh.list(kind), log.store.list(kind), kind);
  }
  assert.deepEqual(ids(fresh.list('task', { serviceIds: ['s-db'] })), ['t3', 't4']);
  assert.deepEqual(ids(fresh.list('task', { nodeIds: ['n1'] })), ['t1', 't3']);
  assert.equal(fresh.resolve('service', 'WEB').meta.id, 's-web');
  assert.deepEqual([...(fresh.get('secret', 'sec')?.spec?.data ?? [])], [1, 2, 3]);
  assert.equal(fresh.get('secret', 'sec')?.meta.version, 4);
  // The restored store keeps enforcing uniqueness and versions.
  const again = new Log(fresh);
  again.index = log.index;
  failed(again.apply(createAction('service', service('s-x', 'web'))), 'ALREADY_EXISTS');
  const stale = cloneObject('task', fresh.get('task', 't1') ?? assert.fail());
  stale.meta = { ...stale.meta, version: 1 };
  failed(again.apply(updateAction('task', stale)), 'VERSION_CONFLICT');

  assert.throws(() => fresh.restore(new Uint8Array([0x0a, 0x02, 0x12, 0x00])), (e: unknown) => e instanceof StoreError && e.code === 'INVALID');
  assert.deepEqual(fresh.snapshot(), data, 'a snapshot that fails to restore changes nothing');
});

test('returned objects cannot be used to change the store', () => {
  const log = seeded();
  ok(log.apply(createAction('secret', secret('sec', 'pw', [1, 2, 3]))));
  const { store } = log;
  const svc = store.get('service', 's-web') ?? assert.fail();
  const mutable = svc as unknown as baton.Service;
  assert.throws(() => {
    mutable.meta = null;
  }, TypeError);
  assert.throws(() => {
    (mutable.meta as baton.Meta).version = 999;
  }, TypeError);
  assert.throws(() => {
    (mutable.spec?.annotations?.labels ?? {}).tier = 'hacked';
  }, TypeError);
  assert.throws(() => {
    mutable.spec?.task?.container?.command?.push('rm -rf');
  }, TypeError);
  const sec = store.get('secret', 'sec') ?? assert.fail();
  const bytes = sec.spec?.data ?? assert.fail();
  bytes[0] = 42;
  assert.deepEqual([...(store.get('secret', 'sec')?.spec?.data ?? [])], [1, 2, 3]);
  // Lists and apply results hand out the same frozen objects.
  assert.ok(Object.isFrozen(store.list('task')[0]));
  const r = ok(log.apply(createAction('node', node('n5', 'x'))));
  assert.ok(Object.isFrozen(r.objects[0]?.object));
  // Changing the proposer's input after encoding does nothing either.
  const input = service('s-in', 'in');
  const action = createAction('service', input);
  const data = encodeBatch([action]);
  (input.spec?.annotations ?? {}).name = 'changed';
  ok(log.store.apply({ term: 1, index: ++log.index, type: EntryType.ENTRY_NORMAL, data }));
  assert.equal(store.get('service', 's-in')?.spec?.annotations?.name, 'in');
  // A clone is a mutable deep copy, independent of the store.
  const copy = cloneObject('service', svc);
  copy.spec = { ...copy.spec, replicas: 9 };
  assert.equal(store.get('service', 's-web')?.spec?.replicas, 2);
  assert.equal(store.list('task').length, 4);
});

/** mulberry32: the same seed gives the same operations in every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random workload of task creates, moves, updates from stale reads and deletes. */
function randomEntries(seed: number, n: number): Uint8Array[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const shadow = new Log();
  const out: Uint8Array[] = [];
  const push = (...actions: StoreActionT[]): void => {
    const data = encodeBatch(actions, `r${out.length}`);
    out.push(data);
    shadow.store.apply({ term: 1, index: ++shadow.index, type: EntryType.ENTRY_NORMAL, data });
  };
  const nodes = ['n0', 'n1', 'n2', 'n3', 'n4', ''];
  const services = ['s0', 's1', 's2'];
  push(...services.map((s) => createAction('service', service(s, `svc-${s}`, { k: s }))));
  for (let i = 0; i < n; i++) {
    const tasks = shadow.store.list('task');
    const r = rand();
    if (r < 0.4 || tasks.length === 0) {
      const batch = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, j) => createAction('task', task(`t${i}-${j}`, pick(services), pick(nodes), pick([baton.TaskState.TASK_RUNNING, baton.TaskState.TASK_SHUTDOWN]))));
      push(...batch);
    } else if (r < 0.8) {
      const t = cloneObject('task', pick(tasks));
      t.nodeId = pick(nodes);
      t.desiredState = pick([baton.TaskState.TASK_RUNNING, baton.TaskState.TASK_SHUTDOWN]);
      if (rand() < 0.2) t.meta = { ...t.meta, version: (t.meta?.version ?? 0) - 1 }; // a stale writer
      push(updateAction('task', t));
    } else {
      const t = pick(tasks);
      push(deleteAction('task', rand() < 0.5 ? t : { meta: { id: t.meta.id } }), ...(rand() < 0.1 ? [createAction('service', service('dup', 'svc-s0'))] : []));
    }
  }
  return out;
}

test('deterministic: two stores fed the same entries end with byte-identical snapshots', () => {
  const entries = randomEntries(7, 1500);
  const a = new ClusterStore();
  const b = new ClusterStore();
  const results: boolean[] = [];
  entries.forEach((data, i) => {
    const e = { term: 1 + Math.floor(i / 100), index: i + 1, type: EntryType.ENTRY_NORMAL, data };
    const ra = a.apply(e);
    const rb = b.apply(e);
    assert.equal(ra.ok, rb.ok);
    results.push(ra.ok);
  });
  assert.ok(results.some((r) => !r), 'the workload includes failing batches');
  assert.ok(a.count('task') > 500);
  assert.deepEqual(a.snapshot(), b.snapshot());
  const c = new ClusterStore();
  c.restore(a.snapshot());
  assert.deepEqual(c.snapshot(), a.snapshot());
});

test('the task indexes agree with a full scan after thousands of changes', () => {
  const entries = randomEntries(11, 3000);
  const store = new ClusterStore();
  entries.forEach((data, i) => store.apply({ term: 1, index: i + 1, type: EntryType.ENTRY_NORMAL, data }));
  const all = store.list('task');
  assert.ok(all.length > 1000, `${all.length} tasks`);
  for (const nodeId of ['n0', 'n1', 'n2', 'n3', 'n4', '']) {
    assert.deepEqual(ids(store.list('task', { nodeIds: [nodeId] })), ids(all.filter((t) => t.nodeId === nodeId)));
  }
  for (const serviceId of ['s0', 's1', 's2']) {
    assert.deepEqual(ids(store.list('task', { serviceIds: [serviceId] })), ids(all.filter((t) => t.serviceId === serviceId)));
    assert.deepEqual(
      ids(store.list('task', { serviceIds: [serviceId], nodeIds: ['n1'], desiredStates: [baton.TaskState.TASK_RUNNING] })),
      ids(all.filter((t) => t.serviceId === serviceId && t.nodeId === 'n1' && t.desiredState === baton.TaskState.TASK_RUNNING)),
    );
  }
});
