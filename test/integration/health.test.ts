// Health checks with the process runtime, end to end: the agent runs --health-cmd, reports
// starting/healthy/unhealthy through the dispatcher (RUNNING -> RUNNING status updates), `service
// create` waits until healthy, `service ps` shows the health, and an unhealthy task is stopped,
// failed with "unhealthy container" and replaced by the restart policy.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatonCluster, running, tasks, assertCreateRefused } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { alive } from '../lib/processes.js';

test('process runtime: healthy while the check passes; unhealthy is stopped, failed and replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-health-it-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ok = join(dir, 'ok');
  const c = BatonCluster.forTest(t);
  await c.init('m1');

  // The task makes the check pass only a second after it starts: `service create` must wait for
  // healthy, not merely running (the first probes, 200 ms apart, fail before that).
  const create = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'hc', '--restart-delay', '200ms',
    '--health-cmd', `test -f ${ok}`, '--health-interval', '200ms', '--health-timeout', '2s', '--health-retries', '2',
    '--health-start-period', '30s', '--stop-grace-period', '2s',
    '--', '/bin/sh', '-c', `sleep 1 && touch ${ok} && exec sleep 1000`,
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  assert.match(create.stdout, /verify: Service converged/);
  const [first] = running(tasks(c, 'm1', 'hc'));
  assert.ok(first, 'one task runs');
  assert.equal(first.health, 'HEALTH_HEALTHY', 'create returned only once the task was healthy');
  const ps = c.cli('m1', ['service', 'ps', 'hc']);
  assert.match(ps.stdout, /Running (less than a second|\d+ seconds?|about a minute|\d+ minutes) ago \(healthy\)/, ps.stdout);

  // The check starts failing: after 2 failed probes the task is unhealthy, stopped, failed.
  rmSync(ok);
  await waitFor('the unhealthy task is failed and a replacement runs', () => {
    const all = tasks(c, 'm1', 'hc');
    const old = all.find((x) => x.id === first.id);
    return old?.state === 'TASK_FAILED' && running(all).some((x) => x.id !== first.id);
  });
  const old = tasks(c, 'm1', 'hc').find((x) => x.id === first.id)!;
  assert.equal(old.err, 'unhealthy container');
  assert.equal(old.health, 'HEALTH_UNHEALTHY');
  assert.equal(old.desired, 'TASK_SHUTDOWN');
  assert.ok(!alive(Number(first.containerId)), 'the unhealthy process was stopped');
  const after = c.cli('m1', ['service', 'ps', 'hc']);
  assert.match(after.stdout, /Failed .* ago\s+"unhealthy container"/, after.stdout);

  // The replacement recreates the file itself after a second: starting, then healthy.
  await waitFor('the replacement turns healthy', () => running(tasks(c, 'm1', 'hc')).some((x) => x.health === 'HEALTH_HEALTHY'));
  assert.ok(existsSync(ok));
});

test('process runtime: a restarted node resumes checking its adopted task without starting over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-health-it-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ok = join(dir, 'ok');
  writeFileSync(ok, '');
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const create = c.cli('m1', [
    'service', 'create', '--runtime', 'process', '--name', 'hc', '--restart-delay', '200ms', '--stop-grace-period', '2s',
    '--health-cmd', `test -f ${ok}`, '--health-interval', '200ms', '--health-retries', '2', '--health-start-period', '60s',
    '--', 'sleep', '1000',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const [task] = running(tasks(c, 'm1', 'hc'));
  assert.equal(task?.health, 'HEALTH_HEALTHY');

  await c.kill('m1');
  await c.restart('m1');
  // Adopted, still healthy: the check resumes from the reported health, not from "starting".
  await waitFor('the node is back', () => c.cli('m1', ['service', 'ps', 'hc']).code === 0);
  await new Promise((r) => setTimeout(r, 1_000));
  const again = running(tasks(c, 'm1', 'hc'));
  assert.deepEqual(again.map((x) => [x.id, x.health]), [[task.id, 'HEALTH_HEALTHY']]);

  // Still inside its 60 s start period, but it was healthy once: failures count and it is replaced.
  rmSync(ok);
  await waitFor('the adopted task turned unhealthy and was replaced', () => {
    const all = tasks(c, 'm1', 'hc');
    return all.find((x) => x.id === task.id)?.err === 'unhealthy container' && running(all).some((x) => x.id !== task.id);
  });
  assert.ok(!alive(Number(task.containerId)), 'the adopted unhealthy process was stopped');
});

test('process runtime: a task without a check shows no health; a failing check within its start period stays starting', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const plain = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'plain', '--', 'sleep', '1000']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(running(tasks(c, 'm1', 'plain'))[0]?.health, 'HEALTH_NONE');
  assert.doesNotMatch(c.cli('m1', ['service', 'ps', 'plain']).stdout, /\((starting|healthy|unhealthy)\)/);

  const slow = c.cli('m1', [
    'service', 'create', '-d', '--runtime', 'process', '--name', 'slow',
    '--health-cmd', 'false', '--health-interval', '200ms', '--health-retries', '1', '--health-start-period', '60s',
    '--', 'sleep', '1000',
  ]);
  assert.equal(slow.code, 0, slow.stderr);
  await waitFor('the task runs, starting', () => running(tasks(c, 'm1', 'slow'))[0]?.health === 'HEALTH_STARTING');
  // Several failed probes later it is still the same task, still starting.
  await new Promise((r) => setTimeout(r, 1_500));
  const ts = tasks(c, 'm1', 'slow');
  assert.equal(ts.length, 1, 'not replaced');
  assert.equal(ts[0]?.health, 'HEALTH_STARTING');
  assert.match(c.cli('m1', ['service', 'ps', 'slow']).stdout, /Running .* ago \(starting\)/);
});

test('bad health flags: one error line, nothing created', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const bad = (args: string[], pattern: RegExp): void => assertCreateRefused(c, 'm1', args, pattern);
  bad(['--health-cmd', 'true', '--health-interval', 'soon'], /--health-interval/);
  bad(['--health-cmd', 'true', '--health-timeout', '-1s'], /--health-timeout/);
  bad(['--health-cmd', 'true', '--health-retries', '-1'], /--health-retries/);
  bad(['--health-cmd', 'true', '--health-retries', 'many'], /--health-retries/);
  bad(['--health-start-period', '5 minutes'], /--health-start-period/);
  bad(['--health-cmd', ''], /--health-cmd/);
  bad(['--no-healthcheck', '--health-cmd', 'true'], /--no-healthcheck/);
  assert.equal(c.cli('m1', ['service', 'ls', '-q']).stdout.trim(), '', 'nothing was created');

  // And the good forms reach the spec as Docker's model has them.
  assert.equal(c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'off', '--no-healthcheck', '--', 'sleep', '100']).code, 0);
  assert.equal(
    c.cli('m1', ['service', 'create', '-d', '--runtime', 'process', '--name', 'on', '--health-cmd', 'true', '--health-interval', '1m', '--health-retries', '5', '--', 'sleep', '100']).code,
    0,
  );
  const spec = (name: string): unknown => (JSON.parse(c.cli('m1', ['service', 'inspect', name]).stdout) as { spec: { task: { container: { healthcheck: unknown } } } }[])[0]?.spec.task.container.healthcheck;
  const zero = { intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 };
  assert.deepEqual(spec('off'), { ...zero, test: ['NONE'] });
  assert.deepEqual(spec('on'), { ...zero, test: ['CMD-SHELL', 'true'], intervalMs: 60_000, retries: 5 });
});

test('service update adds, changes and removes a health check (the new tasks run with it)', async (t) => {
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const spec = (): unknown =>
    (JSON.parse(c.cli('m1', ['service', 'inspect', 'up']).stdout) as { spec: { task: { container: { healthcheck?: unknown } } } }[])[0]?.spec.task.container.healthcheck;
  const create = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'up', '--update-monitor', '300ms', '--', 'sleep', '1000']);
  assert.equal(create.code, 0, create.stderr);
  assert.equal(running(tasks(c, 'm1', 'up'))[0]?.health, 'HEALTH_NONE');

  const add = c.cli('m1', ['service', 'update', '--health-cmd', 'true', '--health-interval', '200ms', 'up']);
  assert.equal(add.code, 0, add.stderr + add.stdout);
  await waitFor('the new task is healthy', () => running(tasks(c, 'm1', 'up'))[0]?.health === 'HEALTH_HEALTHY');
  assert.match(c.cli('m1', ['service', 'ps', 'up']).stdout, /Running .* ago \(healthy\)/);

  // Timings alone keep the command.
  assert.equal(c.cli('m1', ['service', 'update', '--health-retries', '5', 'up']).code, 0);
  assert.deepEqual(spec(), { test: ['CMD-SHELL', 'true'], intervalMs: 200, timeoutMs: 0, retries: 5, startPeriodMs: 0 });
  assert.match(
    c.cli('m1', ['service', 'inspect', '--pretty', 'up']).stdout,
    /\nHealthcheck:\t\n Test:\ttrue\n Interval:\t200ms\n Timeout:\t30s\n Retries:\t5\n Start period:\t0s\n/,
  );

  const bad = c.cli('m1', ['service', 'update', '--health-interval', 'often', 'up']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: [^\n]*--health-interval[^\n]*\n$/);

  assert.equal(c.cli('m1', ['service', 'update', '--no-healthcheck', 'up']).code, 0);
  assert.deepEqual(spec(), { test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 });
  assert.match(c.cli('m1', ['service', 'inspect', '--pretty', 'up']).stdout, /\nHealthcheck:\tnone \(--no-healthcheck\)\n/);
  await waitFor('the new task has no check', () => {
    const ts = running(tasks(c, 'm1', 'up'));
    return ts.length === 1 && ts[0]?.health === 'HEALTH_NONE';
  });
});
