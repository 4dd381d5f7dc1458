// Rolling updates on a real Docker engine: a new image and a new command replace the
// containers slot by slot; an update whose containers exit at once rolls back by itself; a
// start-first update behind the routing mesh fails no request of a client looping on it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { leaderOf, nodes, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, TEST_IMAGE, dockerCluster } from '../lib/docker.js';
import { freePort } from '../../src/launcher/ports.js';
import { cliAsync, requestsWhile, tally } from '../lib/mesh-probe.js';

test('service update on Docker: new image, new command, then a failing command rolled back automatically', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const suffix = randomBytes(4).toString('hex');
  // A second name for the test image: an image change without a registry.
  const repo = 'local/busybox';
  const tag = `update-${suffix}`;
  const image = `${repo}:${tag}`;
  await docker.getImage(TEST_IMAGE).tag({ repo, tag });
  const c = dockerCluster(t, docker);
  // After the cluster's containers: only the tag goes, the image keeps its own name.
  t.after(() => docker.getImage(image).remove());
  await c.init('m1');
  await c.join('w1', 'worker', 'm1');
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);
  const name = `upd${suffix}`;
  const create = c.cli('m1', ['service', 'create', '--name', name, '--replicas', '2', '--update-monitor', '1s', '--stop-grace-period', '1s', TEST_IMAGE, 'sleep', '100000']);
  assert.equal(create.code, 0, create.stderr + create.stdout);

  const containers = async (): Promise<{ image: string; cmd: string }[]> =>
    Promise.all(
      running(tasks(c, 'm1', name)).map(async (x) => {
        const info = await docker.getContainer(x.containerId).inspect();
        return { image: info.Config.Image, cmd: (info.Config.Cmd ?? []).join(' ') };
      }),
    );

  // An image nobody has is refused before anything changes, as at create.
  const unknown = c.cli('m1', ['service', 'update', '--image', '127.0.0.1:9/no/such:image', name]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr.trim(), /^[^\n]*image "127\.0\.0\.1:9\/no\/such:image" is neither on this manager's engine nor in its registry[^\n]*$/);
  assert.doesNotMatch(c.cli('m1', ['service', 'inspect', name]).stdout, /no\/such/);

  const byImage = c.cli('m1', ['service', 'update', '--image', image, name]);
  assert.equal(byImage.code, 0, byImage.stderr + byImage.stdout);
  assert.match(byImage.stdout, /verify: Service converged/);
  assert.deepEqual(await containers(), [
    { image, cmd: 'sleep 100000' },
    { image, cmd: 'sleep 100000' },
  ]);

  const byCommand = c.cli('m1', ['service', 'update', '--args', 'sleep 200000', '--update-order', 'start-first', name]);
  assert.equal(byCommand.code, 0, byCommand.stderr + byCommand.stdout);
  assert.deepEqual(await containers(), [
    { image, cmd: 'sleep 200000' },
    { image, cmd: 'sleep 200000' },
  ]);

  const failing = c.cli('m1', ['service', 'update', '--args', 'false', '--update-failure-action', 'rollback', name]);
  assert.notEqual(failing.code, 0, failing.stdout);
  assert.match(failing.stdout, /rollback: update rolled back due to failure or early termination of task [a-z0-9]{25}/);
  assert.match(failing.stderr, /^Error: service \S+: update rolled back: task [a-z0-9]{25} failed: task exited with code 1\n$/);
  const inspect = JSON.parse(c.cli('m1', ['service', 'inspect', name]).stdout) as { updateStatus: { state: string }; spec: { task: { container: { args: string[] } } } }[];
  assert.equal(inspect[0]?.updateStatus.state, 'ROLLBACK_COMPLETED');
  assert.deepEqual(inspect[0]?.spec.task.container.args, ['sleep', '200000']);
  assert.deepEqual(await containers(), [
    { image, cmd: 'sleep 200000' },
    { image, cmd: 'sleep 200000' },
  ]);
});

test('start-first rolling update of 6 httpd replicas behind the mesh, parallelism 2: a client looping on the published port sees no failure', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const PATH = '/cgi-bin/hostname';
  const c = dockerCluster(t, docker, [], { addressPerNode: true });
  await c.init('m1');
  await c.join('w1', 'worker', 'm1');
  await c.join('w2', 'worker', 'm1');
  await waitFor('3 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 3);
  const port = await freePort();
  const create = c.cli('m1', [
    'service', 'create', '--name', 'web', '--replicas', '6', '--publish', `${port}:80`, '--env', 'V=1',
    '--update-parallelism', '2', '--update-order', 'start-first', '--update-monitor', '1s', '--stop-grace-period', '2s',
    TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  await waitFor('6 replicas answer through every node', async () => {
    for (const h of HOSTS) if ((await tally(h, port, 24, PATH)).answers.size < 6) return false;
    return true;
  }, { timeoutMs: 30_000 });
  const before = new Set(running(tasks(c, 'm1', 'web')).map((x) => x.id));

  const during = await requestsWhile(HOSTS, port, PATH, () => cliAsync(c, 'm1', ['service', 'update', '--env-add', 'V=2', 'web']));
  assert.equal(during.code, 0, 'the update succeeded');
  t.diagnostic(`${during.total} requests during the update, ${during.failures.length} failed`);
  assert.ok(during.total >= 20, `the client kept going through the update (${during.total} requests)`);
  assert.deepEqual(during.failures, [], `no failed request of ${during.total}`);
  const after = running(tasks(c, 'm1', 'web'));
  assert.equal(after.length, 6);
  assert.ok(after.every((x) => !before.has(x.id)), 'every replica was replaced');
  const inspect = JSON.parse(c.cli('m1', ['service', 'inspect', 'web']).stdout) as { updateStatus: { state: string } }[];
  assert.equal(inspect[0]?.updateStatus.state, 'UPDATE_COMPLETED');
});

test('on Docker: SIGKILL of the leader mid-update, the new leader resumes it; 6 containers on the new spec, each slot replaced once', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  await c.form(3, 1);
  const create = c.cli('m1', [
    'service', 'create', '--name', 'slow', '--replicas', '6', '--env', 'V=1', '--constraint', 'node.role==worker', '--stop-grace-period', '1s',
    '--update-parallelism', '2', '--update-delay', '2s', '--update-monitor', '500ms', TEST_IMAGE, 'sleep', '100000',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const { name: leader } = leaderOf(c, 'm2');
  const survivor = ['m1', 'm2', 'm3'].find((n) => n !== leader)!;
  const update = c.cli(leader, ['service', 'update', '-d', '--env-add', 'V=2', 'slow']);
  assert.equal(update.code, 0, update.stderr);
  await waitFor('the first batch runs the new spec', async () => {
    const envs = await Promise.all(running(tasks(c, leader, 'slow')).map(async (x) => (await docker.getContainer(x.containerId).inspect()).Config.Env));
    return envs.filter((e) => e.includes('V=2')).length >= 2;
  });
  await c.kill(leader);
  await waitFor('the update completes under the new leader', () => /UPDATE_COMPLETED/.test(c.cli(survivor, ['service', 'inspect', 'slow']).stdout), { timeoutMs: 90_000 });

  // The engine's truth: exactly 6 running containers of this cluster, all on the new spec.
  const live = (await docker.listContainers({ filters: { label: ['baton.cluster'] } })).filter((x) => c.clusterIds.has(x.Labels['baton.cluster'] ?? ''));
  const envs = await Promise.all(live.map(async (x) => (await docker.getContainer(x.Id).inspect()).Config.Env));
  assert.equal(live.length, 6, 'six containers running');
  assert.ok(envs.every((e) => e.includes('V=2')), 'every running container has the new env');
  const all = tasks(c, survivor, 'slow');
  for (let slot = 1; slot <= 6; slot++) {
    const inSlot = all.filter((x) => x.name === `slow.${slot}`);
    assert.equal(inSlot.length, 2, `slot ${slot}: its old task and one new one, never replaced twice`);
  }
});
