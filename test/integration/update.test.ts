// Rolling updates and rollbacks with real daemons and the process runtime (no Docker): the
// CLI's flags and progress, the control API keeping the previous spec, the leader's updater.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatonCluster, listedObjects, leaderOf, nodes, type CliResult } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';

interface TaskJson {
  meta: { id: string };
  slot: number;
  annotations: { name: string } | null;
  desiredState: string;
  spec: { container: { env: string[]; command: string[] } | null } | null;
  status: { state: string; err: string } | null;
}

interface ServiceJson {
  meta: { version: number };
  spec: { task: { container: { env: string[]; command: string[] } } };
  previousSpec: { task: { container: { env: string[]; command: string[] } } } | null;
  updateStatus: { state: string; message: string; startedAt: number } | null;
}

function psJson(c: BatonCluster, on: string, service: string): TaskJson[] {
  return listedObjects(c, on, ['service', 'ps', service], 'task') as TaskJson[];
}

function inspect(c: BatonCluster, on: string, service: string): ServiceJson {
  const r = c.cli(on, ['service', 'inspect', service]);
  if (r.code !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as ServiceJson[])[0]!;
}

const envOf = (t: TaskJson): string => (t.spec?.container?.env ?? []).join(',');
const isRunning = (t: TaskJson): boolean => t.desiredState === 'TASK_RUNNING' && t.status?.state === 'TASK_RUNNING';

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r;
}

async function clusterWithWorker(t: Parameters<typeof BatonCluster.forTest>[0]): Promise<BatonCluster> {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  await c.join('w1', 'worker', 'm1');
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);
  return c;
}

test('service update: 6 replicas, parallelism 2, a new env: every task replaced once, progress until converged', async (t) => {
  const c = await clusterWithWorker(t);
  ok(
    c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'roll', '--replicas', '6', '--env', 'V=1', '--update-parallelism', '2', '--update-monitor', '300ms', '--', 'sleep', '100000']),
    'create',
  );
  const before = psJson(c, 'm1', 'roll').filter(isRunning);
  assert.equal(before.length, 6);
  const update = ok(c.cli('m1', ['service', 'update', '--env-add', 'V=2', 'roll']), 'update');
  assert.match(update.stdout, /overall progress: [0-6] out of 6 tasks/);
  assert.match(update.stdout, /verify: Service converged/);
  const svc = inspect(c, 'm1', 'roll');
  assert.equal(svc.updateStatus?.state, 'UPDATE_COMPLETED');
  assert.equal(svc.updateStatus?.message, 'update completed');
  assert.deepEqual(svc.previousSpec?.task.container.env, ['V=1'], 'the previous spec is kept');
  const after = psJson(c, 'm1', 'roll');
  const live = after.filter(isRunning);
  assert.equal(live.length, 6);
  assert.ok(live.every((x) => envOf(x) === 'V=2'));
  for (let slot = 1; slot <= 6; slot++) {
    const inSlot = after.filter((x) => x.slot === slot);
    assert.equal(inSlot.length, 2, `slot ${slot}: the old task and one new one`);
    assert.ok(inSlot.some((x) => before.some((b) => b.meta.id === x.meta.id) && x.status?.state === 'TASK_SHUTDOWN'));
  }

  const pretty = ok(c.cli('m1', ['service', 'inspect', '--pretty', 'roll']), 'inspect --pretty').stdout;
  assert.match(pretty, /UpdateStatus:\s*\n State:\s+update_completed/);
  assert.match(pretty, /UpdateConfig:\s*\n Parallelism:\s+2/);
  assert.match(pretty, /Monitoring Period:\s+300ms/);

  // `service rollback` returns to V=1, and a second one to V=2 (the previous spec swaps).
  const rollback = ok(c.cli('m1', ['service', 'rollback', 'roll']), 'rollback');
  assert.match(rollback.stdout, /rolling back update: \d out of 6 tasks/);
  assert.match(rollback.stdout, /verify: Service converged/);
  const back = inspect(c, 'm1', 'roll');
  assert.equal(back.updateStatus?.state, 'ROLLBACK_COMPLETED');
  assert.equal(back.updateStatus?.message, 'manually requested rollback');
  assert.deepEqual(back.spec.task.container.env, ['V=1']);
  assert.ok(psJson(c, 'm1', 'roll').filter(isRunning).every((x) => envOf(x) === 'V=1'));
});

test('an update whose tasks exit 1 rolls back by itself, says why and fails', async (t) => {
  const c = await clusterWithWorker(t);
  ok(
    c.cli('m1', [
      'service', 'create', '--runtime', 'process', '--name', 'flaky', '--replicas', '3',
      '--update-failure-action', 'rollback', '--update-monitor', '2s', '--update-delay', '3s', '--rollback-parallelism', '0',
      '--', 'sh', '-c', 'sleep 100000',
    ]),
    'create',
  );
  const before = psJson(c, 'm1', 'flaky').filter(isRunning).map((x) => x.meta.id);
  const update = c.cli('m1', ['service', 'update', '--args=-c "exit 1"', 'flaky']);
  assert.notEqual(update.code, 0, update.stdout);
  assert.match(update.stdout, /rollback: update rolled back due to failure or early termination of task [a-z0-9]{25}/);
  assert.match(update.stdout, /verify: Service converged/);
  assert.match(update.stderr, /^Error: service flaky: update rolled back: task [a-z0-9]{25} failed: task exited with code 1\n$/);
  const svc = inspect(c, 'm1', 'flaky');
  assert.equal(svc.updateStatus?.state, 'ROLLBACK_COMPLETED');
  assert.deepEqual(svc.spec.task.container.command, ['sh', '-c', 'sleep 100000'], 'the spec is back to the previous one');
  assert.deepEqual(svc.previousSpec?.task.container.command, ['sh', '-c', 'exit 1']);
  const live = psJson(c, 'm1', 'flaky').filter(isRunning);
  assert.equal(live.length, 3);
  assert.ok(live.every((x) => (x.spec?.container?.command ?? []).join(' ') === 'sh -c sleep 100000'));
  // Parallelism 1 and a delay longer than the failure takes to show: only the first slot was
  // tried (its task may be seen running before it exits), the two others never touched.
  assert.equal(live.filter((x) => before.includes(x.meta.id)).length, 2);
});

test('bad update flags: one error line each, the service untouched', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  ok(c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'calm', '--', 'sleep', '100000']), 'create');
  const version = inspect(c, 'm1', 'calm').meta.version;
  const bad = (args: string[], pattern: RegExp): void => {
    const r = c.cli('m1', ['service', 'update', ...args, 'calm']);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /^Error: [^\n]+\n$/);
    assert.match(r.stderr, pattern);
  };
  bad(['--update-parallelism', '-1'], /bad --update-parallelism "-1": want a whole number from 0 to 10000/);
  bad(['--update-parallelism', 'two'], /--update-parallelism/);
  bad(['--update-failure-action', 'explode'], /bad --update-failure-action "explode" \(want pause, continue, rollback\)/);
  bad(['--rollback-failure-action', 'rollback'], /bad --rollback-failure-action/);
  bad(['--update-delay', '5x'], /bad duration "5x" for --update-delay/);
  bad(['--update-monitor', 'soon'], /--update-monitor/);
  bad(['--update-max-failure-ratio', '2'], /bad --update-max-failure-ratio "2": want a number from 0 to 1/);
  bad(['--update-order', 'sideways'], /bad --update-order "sideways"/);
  bad(['--env-add', 'NOEQUALS'], /bad --env-add "NOEQUALS"/);
  bad(['--publish-add', '99999:80'], /port/);
  bad(['--replicas', '-1'], /bad --replicas/);
  bad(['--constraint-add', 'node.colour=blue'], /constraint/);
  bad(['--image', 'busybox'], /--image does not apply to the process runtime/);
  bad(['--frobnicate', '1'], /Unknown argument/);
  assert.equal(inspect(c, 'm1', 'calm').meta.version, version, 'nothing was written');
  const none = c.cli('m1', ['service', 'rollback', 'calm']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^Error: service calm has no previous spec to roll back to\n$/);
  const missing = c.cli('m1', ['service', 'update', '--env-add', 'A=1', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error: [^\n]*nosuch[^\n]*\n$/);
  // create takes the same flags, and refuses bad values the same way.
  const create = c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'x', '--update-order', 'sideways', '--', 'sleep', '1']);
  assert.equal(create.code, 1);
  assert.match(create.stderr, /^Error: bad --update-order "sideways"/);
});

test('SIGKILL of the leader mid-update: the new leader resumes it, every slot replaced exactly once', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.form(3, 1);
  ok(
    c.cli('m1', [
      'service', 'create', '--runtime', 'process', '--name', 'slow', '--replicas', '6', '--env', 'V=1', '--constraint', 'node.role==worker',
      '--update-parallelism', '2', '--update-delay', '2s', '--update-monitor', '500ms', '--', 'sleep', '100000',
    ]),
    'create',
  );
  const { name: leader } = leaderOf(c, 'm2');
  const survivor = ['m1', 'm2', 'm3'].find((n) => n !== leader)!;
  ok(c.cli(leader, ['service', 'update', '-d', '--env-add', 'V=2', 'slow']), 'update');
  await waitFor('the first batch runs the new spec', () => psJson(c, leader, 'slow').filter((x) => isRunning(x) && envOf(x) === 'V=2').length >= 2);
  const startedAt = inspect(c, leader, 'slow').updateStatus?.startedAt;
  await c.kill(leader);
  await waitFor(
    'the update completes under the new leader',
    () => inspect(c, survivor, 'slow').updateStatus?.state === 'UPDATE_COMPLETED',
    { timeoutMs: 60_000 },
  );
  const svc = inspect(c, survivor, 'slow');
  assert.equal(svc.updateStatus?.startedAt, startedAt, 'resumed, not restarted');
  const all = psJson(c, survivor, 'slow');
  const live = all.filter(isRunning);
  assert.equal(live.length, 6);
  assert.ok(live.every((x) => envOf(x) === 'V=2'));
  assert.equal(all.filter((x) => x.desiredState === 'TASK_RUNNING').length, 6, 'no extra task wanted');
  for (let slot = 1; slot <= 6; slot++) {
    assert.equal(all.filter((x) => x.slot === slot && envOf(x) === 'V=2').length, 1, `slot ${slot}: one new task, never replaced twice`);
    assert.equal(all.filter((x) => x.slot === slot).length, 2, `slot ${slot}: its old task and the new one`);
  }
});
