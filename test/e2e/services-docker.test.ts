// Services on a real Docker engine (e2e: real containers) and the faults that matter most: a
// killed container is replaced, a killed worker's tasks move, a restarted worker adopts its
// containers, a missing image or unsatisfiable constraint says why instead of hanging.
import test from 'node:test';
import assert from 'node:assert/strict';
import { listedObjects, BatonCluster, nodeIdOf, nodes, running, tasks, scaleAndKillLeader } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import type Docker from 'dockerode';
import { requireDocker, TEST_IMAGE, dockerCluster } from '../lib/docker.js';


test('busybox httpd replicas on Docker: served, healed after docker kill and after a worker dies, adopted after a worker restart', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  // A generous grace: the restart below must not look like a node loss on a loaded machine.
  await c.init('m1', ['--heartbeat-grace', '10']);
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await c.join('w2', 'worker', 'm1');
  await waitFor('3 ready nodes offering docker', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { status: { state: string }; description: { runtimes: string[] } }[];
    return list.length === 3 && list.every((n) => n.status.state === 'NODE_READY' && n.description.runtimes.includes('docker'));
  });

  const create = c.cli('m1', [
    'service', 'create', '--name', 'web', '--replicas', '3', '--publish', '8080:80', '--env', 'K=V', '--limit-memory', '64m',
    '--reserve-cpu', '0.1', '--restart-delay', '200ms', TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  assert.match(create.stdout, /verify: Service converged/);
  let ts = running(tasks(c, 'm1', 'web'));
  assert.equal(ts.length, 3);
  assert.equal(new Set(ts.map((x) => x.node)).size, 3, 'one replica per node');
  for (const task of ts) {
    const res = await fetch(`http://127.0.0.1:${task.hostPort}/cgi-bin/hostname`);
    assert.equal((await res.text()).trim(), `${task.name}.${task.id}`, 'each replica answers with its own name (service.slot.task)');
    const inspected: Docker.ContainerInspectInfo = await docker.getContainer(task.containerId).inspect();
    assert.equal(inspected.HostConfig.Memory, 64 * 1024 * 1024);
    assert.ok(inspected.Config.Env.includes('K=V'));
  }
  assert.match(c.cli('m1', ['service', 'ls']).stdout, /web\s+replicated\s+3\/3\s+local\/busybox:1\s+\*:8080->80\/tcp/);

  // docker kill: the failed task stays in ps with its exit code, a replacement runs.
  const victim = ts[0]!;
  await docker.getContainer(victim.containerId).kill();
  await waitFor('replacement after docker kill', () => {
    const all = tasks(c, 'm1', 'web');
    const old = all.find((x) => x.id === victim.id);
    return running(all).length === 3 && old?.state === 'TASK_FAILED' && old.exitCode === 137;
  });
  assert.match(c.cli('m1', ['service', 'ps', '--no-trunc', 'web']).stdout, /task exited with code 137/);

  // A worker restarted from its data dir adopts its container instead of starting another.
  ts = running(tasks(c, 'm1', 'web'));
  const onW1 = ts.find((x) => x.node === w1)!;
  await c.kill('w1', 'SIGTERM');
  await c.restart('w1');
  await waitFor('w1 ready again', () => nodes(c, 'm1').find((n) => n.id === w1)?.status === 'NODE_READY');
  // Time for a wrong agent to have started a duplicate, then: the same task, the same container.
  await new Promise((r) => setTimeout(r, 3000));
  const afterRestart = running(tasks(c, 'm1', 'web'));
  assert.ok(afterRestart.some((x) => x.id === onW1.id && x.containerId === onW1.containerId), `same task, same container: ${JSON.stringify(tasks(c, 'm1', 'web'))}`);
  assert.equal(afterRestart.length, 3);
  const containersOnW1 = await docker.listContainers({ filters: { label: [`baton.node=${w1}`] } });
  assert.equal(containersOnW1.length, 1, 'no duplicate container on the restarted worker');

  // SIGKILL a worker: its task is orphaned and rescheduled elsewhere.
  await c.kill('w1');
  await waitFor('w1 down and its replica running elsewhere', () => {
    const all = tasks(c, 'm1', 'web');
    const old = all.find((x) => x.id === onW1.id);
    return old?.state === 'TASK_ORPHANED' && running(all).length === 3 && running(all).every((x) => x.node !== w1);
  }, { timeoutMs: 30_000 });
  assert.equal(nodes(c, 'm1').find((n) => n.id === w1)?.status, 'NODE_DOWN');

  assert.equal(c.cli('m1', ['service', 'rm', 'web']).code, 0);
  await waitFor('containers of web removed from live nodes', async () => {
    const left = await docker.listContainers({ all: true, filters: { label: ['baton.service'] } });
    return left.filter((x) => x.Labels['baton.node'] !== w1 && c.clusterIds.has(x.Labels['baton.cluster'] ?? '')).length === 0;
  });
});

test('a missing image and an unsatisfiable constraint say why instead of hanging', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = BatonCluster.forTest(t);
  await c.init('m1');
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await waitFor('2 ready nodes', () => nodes(c, 'm1').filter((n) => n.status === 'NODE_READY').length === 2);

  // Refused at create, like `docker service create` resolving the image: one line, nothing made.
  const refused = c.cli('m1', ['service', 'create', '-d', '--name', 'ghost', '127.0.0.1:9/no/such:image']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr.trim(), /^[^\n]*image "127\.0\.0\.1:9\/no\/such:image" is neither on this manager's engine nor in its registry[^\n]*$/);
  assert.doesNotMatch(c.cli('m1', ['service', 'ls']).stdout, /ghost/);
  // Forced through, the task itself says why it cannot run.
  const missing = c.cli('m1', ['service', 'create', '-d', '--no-resolve-image', '--name', 'ghost', '--restart-condition', 'none', '127.0.0.1:9/no/such:image']);
  assert.equal(missing.code, 0, missing.stderr);
  await waitFor('the task is rejected with the reason', () => tasks(c, 'm1', 'ghost').some((x) => x.state === 'TASK_REJECTED' && /not found/i.test(x.err)));
  assert.match(c.cli('m1', ['service', 'ps', '--no-trunc', 'ghost']).stdout, /Rejected.*not found/i);

  const pinned = c.cli('m1', ['service', 'create', '-d', '--name', 'pinned', '--constraint', 'node.labels.zone==a', TEST_IMAGE, 'sleep', '1000']);
  assert.equal(pinned.code, 0, pinned.stderr);
  await waitFor('pending with the reason', () => tasks(c, 'm1', 'pinned').some((x) => x.state === 'TASK_PENDING' && /zone/.test(x.message)));
  assert.match(c.cli('m1', ['service', 'ps', '--no-trunc', 'pinned']).stdout, /Pending.*zone/);
  assert.equal(c.cli('m1', ['node', 'update', '--label-add', 'zone=a', w1]).code, 0);
  await waitFor('placed on the labelled node once it has the label', () => running(tasks(c, 'm1', 'pinned')).some((x) => x.node === w1));
  assert.equal(c.cli('m1', ['service', 'rm', 'pinned', 'ghost']).code, 0);
  await waitFor('containers removed', async () => (await docker.listContainers({ all: true, filters: { label: [`baton.node=${w1}`] } })).length === 0);
});

test('on Docker: SIGKILL of the leader while scaling 10 -> 30 ends with exactly 30 containers running, one per slot', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker);
  await c.form(3);
  const create = c.cli('m1', ['service', 'create', '--name', 'many', '--replicas', '10', TEST_IMAGE, 'sleep', '100000']);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const inspect = c.cli('m1', ['service', 'inspect', '--pretty', 'many']);
  assert.match(inspect.stdout, /Name:\tmany\nMode:\tReplicated\n Replicas:\t10\nRuntime:\tdocker\nImage:\tlocal\/busybox:1/);
  const { deadId: leaderId, survivor } = await scaleAndKillLeader(c, 'm1', 'many', 30, 90_000);
  assert.equal(tasks(c, survivor, 'many').filter((x) => x.desired === 'TASK_RUNNING').length, 30);
  // The containers agree with the store: 30 of this service run on the live nodes.
  const live = await docker.listContainers({ filters: { label: ['baton.service'], status: ['running'] } });
  const ours = live.filter((x) => c.clusterIds.has(x.Labels['baton.cluster'] ?? '') && x.Labels['baton.node'] !== leaderId);
  assert.equal(ours.length, 30);
});
