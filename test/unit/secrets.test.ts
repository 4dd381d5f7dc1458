// Secrets and configs, the pure parts: which secrets a node's session carries as its tasks come
// and go (sealed in the store, unsealed for the stream), the agent's memory-backed files, and
// the CLI's --secret/--config values.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { baton } from '../../proto/gen/baton.js';
import { EntryType } from '../../raft/core/types.js';
import { ClusterStore, createAction, encodeBatch, type StoreActionT, type Stored } from '../../manager/store/index.js';
import { newSealKey, seal, unseal } from '../../manager/ca/index.js';
import { SessionSecrets } from '../../dispatcher/session-secrets.js';
import { TaskFiles } from '../../worker/agent/task-files.js';
import { parseConfigRef, parseSecretRef } from '../../cli/data-refs.js';

const KEY = newSealKey();
const RUNNING = baton.TaskState.TASK_RUNNING;
const SHUTDOWN = baton.TaskState.TASK_SHUTDOWN;

function storeWith(...actions: StoreActionT[]): ClusterStore {
  const store = new ClusterStore();
  store.apply({ term: 1, index: 1, type: EntryType.ENTRY_NORMAL, data: encodeBatch(actions, 'r1') });
  return store;
}

const secret = (id: string, data: string): StoreActionT =>
  createAction('secret', { meta: { id }, spec: { annotations: { name: `name-${id}` }, data: seal(KEY, Buffer.from(data)) } });
const config = (id: string, data: string): StoreActionT => createAction('config', { meta: { id }, spec: { annotations: { name: `name-${id}` }, data: Buffer.from(data) } });

function task(id: string, nodeId: string, secrets: string[], configs: string[] = [], desiredState = RUNNING): Stored<'task'> {
  const t = baton.Task.fromObject({
    meta: { id },
    nodeId,
    desiredState,
    spec: { container: { secrets: secrets.map((s) => ({ secretId: s, secretName: `name-${s}` })), configs: configs.map((c) => ({ configId: c })) } },
  });
  return t as unknown as Stored<'task'>;
}

const ids = (list: { meta?: { id?: string | null } | null }[] | null | undefined): string[] => (list ?? []).map((o) => o.meta?.id ?? '').sort();

test('a session carries exactly the secrets its node\'s running tasks reference, unsealed, and drops them when unused', () => {
  const store = storeWith(secret('s1', 'one'), secret('s2', 'two'), secret('s3', 'three'), config('c1', 'conf'));
  const warnings: string[] = [];
  const session = new SessionSecrets(store, 'n1', (sealed) => unseal(KEY, sealed), (m) => warnings.push(m));

  // The full set: tasks of this node that are meant to run; another node's task and a stopping one add nothing.
  const full = session.full([task('t1', 'n1', ['s1'], ['c1']), task('t2', 'n2', ['s2']), task('t3', 'n1', ['s3'], [], SHUTDOWN)]);
  assert.deepEqual(ids(full.secrets), ['s1']);
  assert.equal(Buffer.from(full.secrets![0]!.spec!.data!).toString(), 'one', 'data in clear for the stream');
  assert.deepEqual(ids(full.configs), ['c1']);
  assert.equal(session.pending(), false);

  // A second task with the same secret and a new one: only the new one is sent.
  session.track(task('t4', 'n1', ['s1', 's2']));
  let inc = session.flush();
  assert.deepEqual(ids(inc.secrets), ['s2']);
  assert.deepEqual(inc.removedSecrets, []);

  // t1 stops: s1 is still used by t4, c1 by nobody.
  session.track(task('t1', 'n1', ['s1'], ['c1'], SHUTDOWN));
  inc = session.flush();
  assert.deepEqual(inc.secrets, []);
  assert.deepEqual(inc.removedSecrets, []);
  assert.deepEqual(inc.removedConfigs, ['c1']);

  // t4 moves to another node: both its secrets go.
  session.track(task('t4', 'n2', ['s1', 's2']));
  assert.deepEqual(session.flush().removedSecrets?.sort(), ['s1', 's2']);

  // Added and removed before a flush: nothing to say.
  session.track(task('t5', 'n1', ['s3']));
  session.track(task('t5', 'n1', ['s3']), true);
  assert.equal(session.pending(), false);
  assert.deepEqual(session.flush(), {});

  // Removed then needed again before a flush: the node keeps it, nothing is sent.
  session.track(task('t6', 'n1', ['s3']));
  session.flush();
  session.track(task('t6', 'n1', ['s3']), true);
  session.track(task('t7', 'n1', ['s3']));
  assert.equal(session.pending(), false);

  // A secret that cannot be unsealed is left out with a warning, not a crash.
  const broken = storeWith(createAction('secret', { meta: { id: 'bad' }, spec: { annotations: { name: 'bad' }, data: Buffer.from('not sealed') } }));
  const other = new SessionSecrets(broken, 'n1', (sealed) => unseal(KEY, sealed), (m) => warnings.push(m));
  assert.deepEqual(other.full([task('t1', 'n1', ['bad'])]).secrets, []);
  assert.match(warnings.join('\n'), /cannot unseal/);
});

test('the agent writes a task\'s secrets and configs with their modes, refuses a missing one, removes and sweeps', async (t) => {
  // /dev/shm is what the daemon uses; a test dir there keeps the tmpfs check real.
  const base = mkdtempSync('/dev/shm/baton-unit-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const files = new TaskFiles(base, 'node1', pino({ enabled: false }));
  files.apply({
    full: true,
    secrets: [{ meta: { id: 's1' }, spec: { annotations: { name: 'db' }, data: Buffer.from('pw') } }],
    configs: [{ meta: { id: 'c1' }, spec: { annotations: { name: 'app.conf' }, data: Buffer.from('conf') } }],
  });
  const spec = (id: string, secretRefs: baton.SecretReference.$Properties[], configRefs: baton.ConfigReference.$Properties[] = []): baton.Task.$Properties => ({
    meta: { id },
    spec: { container: { secrets: secretRefs, configs: configRefs } },
  });

  const set = await files.write(spec('t1', [{ secretId: 's1', target: 'db', mode: 0o400 }, { secretId: 's1', target: 'copy' }], [{ configId: 'c1', target: '/etc/app/app.conf' }]));
  const dir = join(base, 'baton-node1', 't1');
  assert.deepEqual(set.secrets, {
    dir: join(dir, 'secrets'),
    files: [
      { path: 'db', target: '/run/secrets/db' },
      { path: 'copy', target: '/run/secrets/copy' },
    ],
  });
  assert.deepEqual(set.configs, { dir: join(dir, 'configs'), files: [{ path: 'etc/app/app.conf', target: '/etc/app/app.conf' }] });
  assert.equal(readFileSync(join(dir, 'secrets', 'db'), 'utf8'), 'pw');
  assert.equal(statSync(join(dir, 'secrets', 'db')).mode & 0o777, 0o400);
  assert.equal(statSync(join(dir, 'secrets', 'copy')).mode & 0o777, 0o444, 'the default mode');
  assert.equal(readFileSync(join(dir, 'configs', 'etc/app/app.conf'), 'utf8'), 'conf');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  // Idempotent: a second prepare rewrites the same files (even over a read-only one).
  await files.write(spec('t1', [{ secretId: 's1', target: 'db', mode: 0o400 }]));
  assert.deepEqual(await files.write(spec('t0', [])), {}, 'a task without any gets nothing');

  await assert.rejects(files.write(spec('t2', [{ secretId: 'nope', secretName: 'gone' }])), /secret gone is not available on this node/);
  files.apply({ full: false, removedSecrets: ['s1'] });
  await assert.rejects(files.write(spec('t3', [{ secretId: 's1', secretName: 'db' }])), /secret db is not available/);

  await files.write(spec('t4', [], [{ configId: 'c1', target: '/c' }]));
  await files.remove('t1');
  assert.ok(!existsSync(dir));
  await files.sweep(new Set(['t0']));
  assert.ok(!existsSync(join(base, 'baton-node1', 't4')), 'swept: not a task the agent has');
});

test('the agent refuses to write secrets outside a memory-backed filesystem', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'baton-task-files-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const files = new TaskFiles(base, 'node1', pino({ enabled: false }));
  files.apply({ full: true, secrets: [{ meta: { id: 's1' }, spec: { annotations: { name: 'db' }, data: Buffer.from('pw') } }] });
  if (statfsSync(base).type === 0x01021994) {
    t.skip(`${tmpdir()} is itself a tmpfs here: no disk directory to refuse`);
    return;
  }
  await assert.rejects(files.write({ meta: { id: 't1' }, spec: { container: { secrets: [{ secretId: 's1' }] } } }), /not on a memory-backed filesystem/);
  assert.ok(!existsSync(join(base, 'baton-node1', 't1', 'secrets', 'db')), 'nothing written');
});

test('--secret and --config values, Docker\'s way', () => {
  assert.deepEqual(parseSecretRef('db'), { secretName: 'db', target: '', mode: 0 });
  assert.deepEqual(parseSecretRef('source=db,target=pw,mode=0400'), { secretName: 'db', target: 'pw', mode: 0o400 });
  assert.deepEqual(parseSecretRef('db,target=pw'), { secretName: 'db', target: 'pw', mode: 0 });
  assert.deepEqual(parseConfigRef('src=app,target=/etc/app.conf,mode=440'), { configName: 'app', target: '/etc/app.conf', mode: 0o440 });
  assert.throws(() => parseSecretRef('target=pw'), /bad --secret "target=pw": a name/);
  assert.throws(() => parseSecretRef('db,mode=999'), /not an octal file mode/);
  assert.throws(() => parseSecretRef('db,colour=red'), /unknown key "colour"/);
  assert.throws(() => parseConfigRef('app,uid=0'), /uid is not supported/);
  assert.throws(() => parseSecretRef(''), /bad --secret/);
});
