// Health checks on a real Docker engine: the engine runs the probes (Docker's own Healthcheck in
// the create options, or the image's HEALTHCHECK), the agent follows its health_status events,
// `service ps` shows the health, and an unhealthy container is stopped, failed with
// "unhealthy container" and replaced.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type Docker from 'dockerode';
import { BatonCluster, running, tasks, type TaskRow } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { httpGet, tally, tcpProbe } from '../lib/mesh-probe.js';
import { freePort } from '../../src/launcher/ports.js';
import { requireDocker, TEST_IMAGE, TEST_LABELS, dockerCluster } from '../lib/docker.js';

const PATH = '/cgi-bin/hostname';

/** A one-node cluster whose containers are removed when the test ends. */
async function oneNodeCluster(t: { after(fn: () => Promise<void>): void }, docker: Docker): Promise<BatonCluster> {
  const c = dockerCluster(t, docker);
  await c.init('m1');
  return c;
}

/** `docker exec` through the CLI: run to completion, nothing left attached. */
function exec(containerId: string, cmd: string[]): void {
  const r = spawnSync('docker', ['exec', containerId, ...cmd], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `docker exec ${cmd.join(' ')}: ${r.stderr}`);
}

test('docker: httpd with a wget health check turns healthy; a failing check replaces the container', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = await oneNodeCluster(t, docker);

  const web = c.cli('m1', [
    'service', 'create', '--name', 'hweb', '--restart-delay', '200ms',
    '--health-cmd', 'wget -q -O- http://127.0.0.1/cgi-bin/hostname || exit 1', '--health-interval', '500ms', '--health-retries', '2',
    TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www',
  ]);
  assert.equal(web.code, 0, web.stderr + web.stdout);
  assert.match(web.stdout, /verify: Service converged/);
  const [w] = running(tasks(c, 'm1', 'hweb'));
  assert.equal(w?.health, 'HEALTH_HEALTHY', 'create returned once the container was healthy');
  assert.match(c.cli('m1', ['service', 'ps', 'hweb']).stdout, /Running .* ago \(healthy\)/);
  // Docker's own Healthcheck, durations in nanoseconds; zero = Docker's default.
  const hc = (await docker.getContainer(w.containerId).inspect()).Config.Healthcheck;
  assert.deepEqual(hc?.Test, ['CMD-SHELL', 'wget -q -O- http://127.0.0.1/cgi-bin/hostname || exit 1']);
  assert.equal(hc?.Interval, 500_000_000);
  assert.equal(hc?.Retries, 2);

  // A check the test controls from outside: fails (within a long start period) until /tmp/ok exists.
  const flag = c.cli('m1', [
    'service', 'create', '-d', '--name', 'hflag', '--restart-delay', '200ms', '--stop-grace-period', '2s',
    '--health-cmd', 'test -f /tmp/ok', '--health-interval', '300ms', '--health-retries', '2', '--health-start-period', '60s',
    TEST_IMAGE, 'sleep', '1000',
  ]);
  assert.equal(flag.code, 0, flag.stderr + flag.stdout);
  await waitFor('the task runs, starting', () => running(tasks(c, 'm1', 'hflag'))[0]?.health === 'HEALTH_STARTING');
  assert.match(c.cli('m1', ['service', 'ps', 'hflag']).stdout, /Running .* ago \(starting\)/);
  const first = running(tasks(c, 'm1', 'hflag'))[0]!;
  exec(first.containerId, ['touch', '/tmp/ok']);
  await waitFor('healthy once /tmp/ok exists', () => tasks(c, 'm1', 'hflag').find((x) => x.id === first.id)?.health === 'HEALTH_HEALTHY');

  exec(first.containerId, ['rm', '/tmp/ok']);
  await waitFor('the unhealthy task failed and a new container runs', () => {
    const all = tasks(c, 'm1', 'hflag');
    const old = all.find((x) => x.id === first.id);
    return old?.state === 'TASK_FAILED' && running(all).some((x) => x.id !== first.id);
  }, { timeoutMs: 30_000 });
  const old = tasks(c, 'm1', 'hflag').find((x) => x.id === first.id)!;
  assert.equal(old.err, 'unhealthy container');
  assert.equal(old.desired, 'TASK_SHUTDOWN');
  assert.equal((await docker.getContainer(first.containerId).inspect()).State.Running, false, 'the unhealthy container was stopped');
  assert.match(c.cli('m1', ['service', 'ps', 'hflag']).stdout, /Failed .* ago\s+"unhealthy container"/);
  const replacement = running(tasks(c, 'm1', 'hflag')).find((x) => x.id !== first.id)!;
  assert.notEqual(replacement.containerId, first.containerId);
  assert.equal(replacement.health, 'HEALTH_STARTING', 'the replacement starts over');
});

test("docker: the image's own HEALTHCHECK applies without flags; --no-healthcheck disables it", async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = await oneNodeCluster(t, docker);
  // An image with a HEALTHCHECK of its own, made from the test image and removed afterwards.
  const repo = `baton-test-healthcheck-${process.pid}`;
  const base = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { ...TEST_LABELS } });
  try {
    await base.commit({ repo, tag: '1', changes: 'HEALTHCHECK --interval=300ms --retries=1 CMD true' });
  } finally {
    await base.remove({ force: true });
  }
  t.after(async () => {
    await docker.getImage(`${repo}:1`).remove({ force: true }).catch(() => undefined);
  });

  const own = c.cli('m1', ['service', 'create', '--name', 'own', '--no-resolve-image', `${repo}:1`, 'sleep', '1000']);
  assert.equal(own.code, 0, own.stderr + own.stdout);
  assert.equal(running(tasks(c, 'm1', 'own'))[0]?.health, 'HEALTH_HEALTHY', "the image's check ran and create waited for it");
  assert.match(c.cli('m1', ['service', 'ps', 'own']).stdout, /\(healthy\)/);

  const off = c.cli('m1', ['service', 'create', '--name', 'off', '--no-resolve-image', '--no-healthcheck', `${repo}:1`, 'sleep', '1000']);
  assert.equal(off.code, 0, off.stderr + off.stdout);
  const [task] = running(tasks(c, 'm1', 'off'));
  assert.equal(task?.health, 'HEALTH_NONE');
  assert.equal((await docker.getContainer(task.containerId).inspect()).State.Health, undefined, 'Docker runs no check');
  assert.doesNotMatch(c.cli('m1', ['service', 'ps', 'off']).stdout, /\((starting|healthy|unhealthy)\)/);
});

test('docker: the routing mesh sends only to healthy tasks and stops sending to one that turns unhealthy', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = await oneNodeCluster(t, docker);
  const port = await freePort();
  const create = c.cli('m1', [
    'service', 'create', '-d', '--name', 'hmesh', '--replicas', '2', '--publish', `${port}:80`, '--restart-delay', '200ms',
    '--stop-grace-period', '2s', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '300ms', '--health-retries', '2',
    '--health-start-period', '60s', TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('both replicas run, starting', () => {
    const ts = running(tasks(c, 'm1', 'hmesh'));
    return ts.length === 2 && ts.every((x) => x.health === 'HEALTH_STARTING');
  });
  // No healthy backend yet: the mesh holds the port and resets new connections.
  await waitFor('the mesh holds the port', async () => (await tcpProbe('127.0.0.1', port)) === 'reset');

  const [a, b] = running(tasks(c, 'm1', 'hmesh')).sort((x, y) => x.name.localeCompare(y.name)) as [TaskRow, TaskRow];
  const nameOf = (x: TaskRow): string => `${x.name}.${x.id}`;
  /** Over 20 requests: which replicas answered; every request must be answered. */
  const answering = async (): Promise<string[]> => {
    const { answers, failures } = await tally('127.0.0.1', port, 20, PATH);
    assert.deepEqual(failures, []);
    return [...answers.keys()].sort();
  };

  exec(a.containerId, ['touch', '/tmp/ok']);
  await waitFor('only the healthy replica answers', async () => (await answering().catch(() => [])).join() === nameOf(a));
  assert.deepEqual(await answering(), [nameOf(a)], 'the starting replica gets nothing');

  exec(b.containerId, ['touch', '/tmp/ok']);
  await waitFor('both answer once both are healthy', async () => (await answering().catch(() => [])).length === 2);

  // A client keeps requesting while a turns unhealthy and is stopped: none of its requests fails.
  let loop = true;
  const failures: string[] = [];
  let served = 0;
  const client = (async () => {
    while (loop) {
      await httpGet('127.0.0.1', port, PATH).then(
        () => served++,
        (err: unknown) => failures.push(err instanceof Error ? err.message : String(err)),
      );
    }
  })();
  try {
    exec(a.containerId, ['rm', '/tmp/ok']);
    // Asked of the engine without blocking (the CLI would stall the client loop meanwhile).
    await waitFor('the unhealthy container stopped', async () => (await docker.getContainer(a.containerId).inspect()).State.Running === false, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1_000));
  } finally {
    loop = false;
    await client;
  }
  await waitFor('the unhealthy replica is failed and replaced', () => {
    const all = tasks(c, 'm1', 'hmesh');
    return all.find((x) => x.id === a.id)?.err === 'unhealthy container' && running(all).length === 2;
  }, { timeoutMs: 30_000 });
  t.diagnostic(`${served} requests served while a replica turned unhealthy and was stopped`);
  assert.ok(served > 0);
  assert.deepEqual(failures, [], `no failed request while a replica turned unhealthy (${served} served)`);
  // The replacement is starting (its /tmp/ok does not exist): only b is served.
  await waitFor('only the healthy replica answers again', async () => (await answering().catch(() => [])).join() === nameOf(b));
  assert.deepEqual(await answering(), [nameOf(b)]);
});
