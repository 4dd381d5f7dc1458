// The routing mesh on a real Docker engine (e2e: real containers): three nodes on 127.0.0.1, .2 and
// .3 sharing the engine (containers carry their node's labels), busybox httpd replicas answering
// their hostname through the published port of every node, through a docker kill, a scale to 0
// and back, and host-mode publishing. The image has no UDP server applet, so the UDP case runs a
// process-runtime task on the same nodes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { listedObjects, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { freePort } from '../../src/launcher/ports.js';
import { canBind, cliAsync, httpGet, requestsWhile, tally, tcpProbe, udpRoundTrip } from '../lib/mesh-probe.js';
import { requireDocker, TEST_IMAGE, dockerCluster } from '../lib/docker.js';

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const PATH = '/cgi-bin/hostname';
const REQUESTS_PER_NODE = 30;
const UDP_ECHO = `const u = require('dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(process.env.BATON_TASK_NAME + ':' + m, r.port, r.address));
u.bind(Number(process.env.PORT), process.env.BATON_HOST_IP);`;

/** Requests round the nodes for as long as `action` runs (bounded), then its failures. */
async function whileRunning(action: () => Promise<number | null>, port: number): Promise<{ total: number; failures: string[] }> {
  const { code, total, failures } = await requestsWhile(HOSTS, port, PATH, action);
  assert.equal(code, 0, 'the command succeeded');
  return { total, failures };
}

async function everyReplicaOnEveryNode(port: number, replicas: number): Promise<void> {
  await waitFor(`${replicas} replicas answer on every node`, async () => {
    for (const h of HOSTS) if ((await tally(h, port, replicas * 2, PATH)).answers.size < replicas) return false;
    return true;
  }, { timeoutMs: 30_000 });
  for (const h of HOSTS) {
    const { answers, failures } = await tally(h, port, REQUESTS_PER_NODE, PATH);
    assert.deepEqual(failures, [], `no failed request through ${h}`);
    assert.equal(answers.size, replicas, `every replica answers through ${h}: ${[...answers.keys()].join(', ')}`);
    for (const name of answers.keys()) assert.match(name, /^web\.\d\./);
  }
}

test('busybox httpd behind the mesh on 3 nodes: every replica on every node, docker kill without failed requests once known down, scale 0 and back, UDP, host mode', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  const c = dockerCluster(t, docker, [], { addressPerNode: true });
  await c.init('m1');
  await c.join('w1', 'worker', 'm1');
  const w2 = nodeIdOf(await c.join('w2', 'worker', 'm1'));
  await waitFor('3 ready nodes offering docker', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { status: { state: string }; description: { runtimes: string[] } }[];
    return list.length === 3 && list.every((n) => n.status.state === 'NODE_READY' && n.description.runtimes.includes('docker'));
  });

  const port = await freePort();
  // A long restart delay keeps the replacement out of the window measured after the kill.
  const create = c.cli('m1', [
    'service', 'create', '--name', 'web', '--replicas', '3', '--publish', `${port}:80`, '--restart-delay', '20s',
    TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www',
  ]);
  assert.equal(create.code, 0, create.stderr + create.stdout);
  const ts = running(tasks(c, 'm1', 'web'));
  assert.equal(new Set(ts.map((x) => x.node)).size, 3, 'one replica per node');
  await everyReplicaOnEveryNode(port, 3);

  // docker kill one replica while a client keeps going round the nodes: once `service ps`
  // shows the task failed, no request fails (the ones in flight at the kill may).
  const victim = ts[0]!;
  const results: { start: number; error?: string }[] = [];
  let stop = false;
  const client = (async () => {
    for (let i = 0; i < 5_000 && !stop; i++) {
      const start = Date.now();
      try {
        await httpGet(HOSTS[i % HOSTS.length]!, port, PATH);
        results.push({ start });
      } catch (err) {
        results.push({ start, error: err instanceof Error ? err.message : String(err) });
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await docker.getContainer(victim.containerId).kill();
  let knownDown = Infinity;
  try {
    await waitFor('service ps shows the killed task failed', () => tasks(c, 'm1', 'web').find((x) => x.id === victim.id)?.state === 'TASK_FAILED');
    knownDown = Date.now();
    await waitFor('150 requests after the task is known down', () => results.filter((r) => r.start > knownDown).length >= 150, { timeoutMs: 30_000 });
  } finally {
    stop = true;
    await client;
  }
  const after = results.filter((r) => r.start > knownDown);
  const before = results.filter((r) => r.start <= knownDown);
  t.diagnostic(`requests before known down: ${before.length} (${before.filter((r) => r.error).length} failed), after: ${after.length}`);
  assert.deepEqual(after.filter((r) => r.error).map((r) => r.error), [], 'no failed request once the task is known down');

  // Scale to 0: every node resets new connections at once; back to 3: every replica answers.
  assert.equal(c.cli('m1', ['service', 'scale', 'web=0']).code, 0);
  for (const h of HOSTS) await waitFor(`${h} resets connections`, async () => (await tcpProbe(h, port)) === 'reset');
  assert.equal(c.cli('m1', ['service', 'scale', 'web=3']).code, 0);
  await everyReplicaOnEveryNode(port, 3);

  // A graceful scale down while the client keeps going: the leaving task is out of every
  // node's mesh before it is stopped, so no request fails.
  const during = await whileRunning(() => cliAsync(c, 'm1', ['service', 'scale', 'web=2']), port);
  t.diagnostic(`requests during scale 3 -> 2: ${during.total}`);
  assert.deepEqual(during.failures, [], 'no failed request during a graceful scale down');
  assert.equal(running(tasks(c, 'm1', 'web')).length, 2);

  // Scaling up under load: a new task joins the mesh once it runs.
  const up = await whileRunning(() => cliAsync(c, 'm1', ['service', 'scale', 'web=4']), port);
  t.diagnostic(`requests during scale 2 -> 4: ${up.total}, failed: ${up.failures.length}`);
  assert.deepEqual(up.failures, [], 'no failed request while new tasks start');

  // UDP through the mesh (a process-runtime echo: busybox here has no UDP server applet).
  const udp = await freePort();
  const echo = c.cli('m1', ['service', 'create', '--runtime', 'process', '--name', 'echo', '--replicas', '2', '--publish', `${udp}:53/udp`, '--', process.execPath, '-e', UDP_ECHO]);
  assert.equal(echo.code, 0, echo.stderr + echo.stdout);
  for (const h of HOSTS) await waitFor(`a UDP answer through ${h}`, async () => /^echo\.\d\.\w+:ping$/.test(await udpRoundTrip(h, udp, 'ping')));

  // Host mode: Docker binds the published port on the task's node only; no mesh.
  const hostPort = await freePort();
  const pinned = c.cli('m1', [
    'service', 'create', '--name', 'pinned', '--constraint', `node.id==${w2}`, '--publish', `mode=host,target=80,published=${hostPort}`,
    TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www',
  ]);
  assert.equal(pinned.code, 0, pinned.stderr + pinned.stdout);
  await waitFor('the host-mode container answers on its node', async () => /^pinned\.1\./.test(await httpGet('127.0.0.3', hostPort, PATH)));
  for (const h of ['127.0.0.1', '127.0.0.2']) assert.equal(await tcpProbe(h, hostPort), 'refused', `nothing listens on ${h}:${hostPort}`);

  // Removed: the mesh port is free again on every node.
  assert.equal(c.cli('m1', ['service', 'rm', 'web']).code, 0);
  for (const h of HOSTS) await waitFor(`${port} is free on ${h}`, () => canBind(h, port));
});
