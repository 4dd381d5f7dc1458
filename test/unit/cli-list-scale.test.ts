// `service ls` and `service ps` of large services print what they printed when every row was
// worked out on its own: the task order (slots by number, newest first in a slot), tables of
// more rows than a function call takes arguments, and service ls's REPLICAS from the counts
// ListServices sends (status) equal to the counts from every task (a server without them).
import test from 'node:test';
import assert from 'node:assert/strict';
import { baton } from '../../proto/gen/baton.js';
import type { Manager } from '../../manager/manager.js';
import type { LeaderForwarder } from '../../manager/forward.js';
import { controlHandlers } from '../../manager/controlapi/index.js';
import { encodedSize } from '../../manager/controlapi/paging.js';
import { createAction } from '../../manager/store/index.js';
import { localGuard } from '../../rpc/caller.js';
import { SlowLeader } from '../lib/slow-leader.js';
import { renderList } from '../../cli/list-format.js';
import { table } from '../../cli/output.js';
import { counted, serviceView } from '../../cli/service-list.js';
import { sortTasks, taskView } from '../../cli/task-table.js';

type Task = baton.Task.$Properties;
const S = baton.TaskState;

/** A deterministic shuffle (a fixed linear congruential sequence), so a failure reproduces. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('service ps order: slots by number (web.2 before web.10), newest first within a slot, as String#localeCompare numeric ordered them', () => {
  const tasks: Task[] = [];
  for (let slot = 1; slot <= 3000; slot++) {
    // Every 7th slot has two older tasks (history) under the current one.
    const versions = slot % 7 === 0 ? 3 : 1;
    for (let v = 0; v < versions; v++) tasks.push({ meta: { id: `t${slot}-${v}`, createdAt: 1_000_000 + slot * 10 + v }, annotations: { name: `web.${slot}` } });
  }
  const sorted = sortTasks(shuffled(tasks));
  const reference = [...tasks].sort(
    (a, b) => (a.annotations?.name ?? '').localeCompare(b.annotations?.name ?? '', undefined, { numeric: true }) || Number(b.meta?.createdAt ?? 0) - Number(a.meta?.createdAt ?? 0),
  );
  assert.deepEqual(sorted.map((t) => t.meta?.id), reference.map((t) => t.meta?.id));
  assert.deepEqual(sorted.slice(0, 2).map((t) => t.annotations?.name), ['web.1', 'web.2']);
  assert.deepEqual(sorted.slice(6, 10).map((t) => t.meta?.id), ['t7-2', 't7-1', 't7-0', 't8-0']);
  // Names with no number and mixed names keep the collator's order too.
  const names = shuffled(['b', 'a.10', 'a.9', 'a', 'A.1', 'web-x.3', 'web.x']).map((name, i) => ({ meta: { id: String(i) }, annotations: { name } }));
  assert.deepEqual(
    sortTasks(names).map((t) => t.annotations?.name),
    [...names].sort((a, b) => a.annotations.name.localeCompare(b.annotations.name, undefined, { numeric: true })).map((t) => t.annotations.name),
  );
});

test('a table of 200,000 rows: every row aligned on the widest cell (no argument-count limit)', () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => [`id${i}`, i === 123_456 ? 'the-widest-name' : 'n', 'x']);
  const lines = table(['ID', 'NAME', 'STATE'], rows).split('\n');
  assert.equal(lines.length, 200_001);
  const nameAt = lines[0]!.indexOf('NAME');
  const stateAt = lines[0]!.indexOf('STATE');
  assert.equal(stateAt - nameAt, 'the-widest-name'.length + 3);
  for (const i of [1, 123_457, 200_000]) assert.equal(lines[i]!.indexOf('x', nameAt + 1), stateAt, lines[i]);
});

test('service ps of 10,000 tasks: each line is the row of its own task, rendered alone', () => {
  const at = Date.now() - 90_000;
  const tasks: Task[] = shuffled(
    Array.from({ length: 10_000 }, (_, i) => ({
      meta: { id: `${String(i).padStart(5, '0')}abcdefghijklmnopqrst`, createdAt: at },
      annotations: { name: `web.${i + 1}` },
      nodeId: `node${i % 20}`,
      spec: { container: { image: 'busybox:1' } },
      desiredState: S.TASK_RUNNING,
      status: i % 1000 === 0 ? { state: S.TASK_FAILED, timestamp: at, err: 'a long error that is cut at thirty characters' } : { state: S.TASK_RUNNING, timestamp: at },
    })),
  );
  const nodes = Array.from({ length: 20 }, (_, i) => ({ meta: { id: `node${i}` }, description: { hostname: `host-${i}` } }));
  const shown = sortTasks(tasks);
  const all = renderList({}, shown, taskView(shown, nodes, true)).split('\n');
  assert.equal(all.length, 10_001);
  // Every row is one task's fields; the widths are the widest of the whole listing.
  const view = taskView(shown, nodes, true);
  const widths = view.columns.map((c) => Math.max(view.headers[c]!.length, ...shown.slice(0, 5000).map((t) => String(view.row(t)[c]).length), ...shown.slice(5000).map((t) => String(view.row(t)[c]).length)));
  shown.forEach((t, i) => {
    const row = view.row(t);
    const expected = view.columns.map((c, k) => (k === view.columns.length - 1 ? String(row[c]) : String(row[c]).padEnd(widths[k]! + 3))).join('').trimEnd();
    if (all[i + 1] !== expected) assert.equal(all[i + 1], expected, `line ${i + 1}`);
  });
  assert.match(all[1]!, /^00000abcdefg\s+web\.1\s+busybox:1\s+host-0\s+Running\s+Failed about a minute ago\s+"a long error that is cut at t…"$/);
});

function api(): { leader: SlowLeader; handlers: ReturnType<typeof controlHandlers>[number] } {
  const leader = new SlowLeader();
  const deps = { manager: leader as unknown as Manager, forwarder: {} as LeaderForwarder, guard: localGuard, clusterId: 'c', managerKey: new Uint8Array(32) };
  return { leader, handlers: controlHandlers(deps, [localGuard])[0]! };
}

test('ListServices with status: each service its task counts, the same REPLICAS as counted from every task, in every mode', async () => {
  const { leader, handlers } = api();
  // The handlers read nothing of the call here (a local caller).
  const call = {} as never;
  const create = async (name: string, mode: Partial<baton.ServiceSpec.$Properties>): Promise<string> => {
    const spec = { annotations: { name }, task: { runtime: 'process', container: { command: ['/bin/true'] } }, ...mode };
    return (await handlers.CreateService({ spec, noResolveImage: true }, call)).meta?.id ?? '';
  };
  const web = await create('web', { replicas: 5 });
  const global = await create('agent', { global: true });
  const job = await create('batch', { replicatedJob: { maxConcurrent: 2, totalCompletions: 6 } });
  const gjob = await create('once', { globalJob: {} });
  const iteration = Number(leader.store.get('service', job)?.jobStatus?.jobIteration ?? 0);
  const gIteration = Number(leader.store.get('service', gjob)?.jobStatus?.jobIteration ?? 0);
  let n = 0;
  const task = (serviceId: string, desired: baton.TaskState, state: baton.TaskState, extra: Partial<Task> = {}): Task => ({ meta: { id: `task${n++}` }, serviceId, desiredState: desired, status: { state }, ...extra });
  const tasks: Task[] = [
    ...[S.TASK_RUNNING, S.TASK_RUNNING, S.TASK_RUNNING, S.TASK_STARTING].map((s) => task(web, S.TASK_RUNNING, s)),
    task(web, S.TASK_SHUTDOWN, S.TASK_RUNNING),
    task(web, S.TASK_SHUTDOWN, S.TASK_FAILED),
    ...[S.TASK_RUNNING, S.TASK_PENDING].map((s) => task(global, S.TASK_RUNNING, s)),
    task(job, S.TASK_RUNNING, S.TASK_RUNNING, { jobIteration: iteration }),
    task(job, S.TASK_RUNNING, S.TASK_COMPLETE, { jobIteration: iteration, status: { state: S.TASK_COMPLETE, exitCode: 0 } }),
    task(job, S.TASK_SHUTDOWN, S.TASK_COMPLETE, { jobIteration: iteration, status: { state: S.TASK_COMPLETE, exitCode: 0 } }),
    task(job, S.TASK_SHUTDOWN, S.TASK_COMPLETE, { jobIteration: iteration, status: { state: S.TASK_COMPLETE, exitCode: 1 } }),
    // An earlier run of the job: not counted.
    task(job, S.TASK_SHUTDOWN, S.TASK_COMPLETE, { jobIteration: iteration + 7, status: { state: S.TASK_COMPLETE, exitCode: 0 } }),
    task(gjob, S.TASK_RUNNING, S.TASK_COMPLETE, { jobIteration: gIteration, status: { state: S.TASK_COMPLETE, exitCode: 0 } }),
    task(gjob, S.TASK_RUNNING, S.TASK_RUNNING, { jobIteration: gIteration }),
    task(gjob, S.TASK_RUNNING, S.TASK_PREPARING, { jobIteration: gIteration }),
  ];
  await leader.host.propose(tasks.map((t) => createAction('task', t as baton.Task)));

  const plain = (await handlers.ListServices({}, call)).services ?? [];
  const withStatus = (await handlers.ListServices({ status: true }, call)).services ?? [];
  assert.equal(counted(plain), false, 'without status, no counts');
  assert.equal(counted(withStatus), true);
  assert.ok(leader.store.list('service').every((s) => !('serviceStatus' in s) || !s.serviceStatus), 'the stored services are not changed');
  const allTasks = (await handlers.ListTasks({}, call)).tasks ?? [];
  const fromTasks = renderList({}, plain, serviceView(allTasks));
  const fromStatus = renderList({}, withStatus, serviceView([]));
  assert.equal(fromStatus, fromTasks);
  const replicas: Record<string, string> = {};
  for (const s of withStatus) replicas[s.spec?.annotations?.name ?? ''] = String(serviceView([]).row(s).Replicas);
  assert.deepEqual(replicas, { web: '3/5', agent: '1/2', batch: '1/2 (2/6 completed)', once: '1/2 (1/3 completed)' });
});

test('encodedSize: the encoded length, kept for a frozen (stored) object', () => {
  const t: Task = { meta: { id: 'abc', version: 3 }, annotations: { name: 'web.1' }, spec: { container: { image: 'busybox:1', command: ['sleep', '9'] } } };
  const fresh = baton.Task.encode(t).finish().length;
  assert.equal(encodedSize(baton.Task, t), fresh);
  const frozen = Object.freeze({ ...t });
  assert.equal(encodedSize(baton.Task, frozen), fresh);
  // A mutable object is measured again each time: a change shows.
  t.annotations = { name: 'web.10000' };
  assert.equal(encodedSize(baton.Task, t), baton.Task.encode(t).finish().length);
  assert.ok(encodedSize(baton.Task, t) > fresh);
});
