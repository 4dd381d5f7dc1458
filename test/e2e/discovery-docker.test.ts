// Service discovery on a real Docker engine, three nodes on 127.0.0.1-3: a stack whose client
// (on the manager) calls an api (VIP, on the workers) and a db (DNSRR, with an alias) by name,
// all on the same port (each service has its own addresses),
// tasks.<service> following a scale-down, a service on another network that neither resolves
// (not even asking that network's resolver directly) nor answers, no forwarding for an
// internal network, other names forwarded to the node's resolver, the api's node SIGKILLed (the
// name answers again once its task is rescheduled), and nothing of the networks left after
// `stack rm` on the nodes still alive.
import test from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { fakeResolver } from '../lib/fake-resolver.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { listedObjects, baton, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { requireDocker, dockerCluster, resolveIn, shIn, requireTestImage } from '../lib/docker.js';
import { freePort } from '../../src/launcher/ports.js';

const COMPOSE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/stack/discovery/compose.yml');

/** GET /cgi-bin/hostname through `host:port` with nc: the hostname of the task that answered. */
async function hostnameVia(containerId: string, host: string, port: number): Promise<string | undefined> {
  const r = await shIn(containerId, `printf 'GET /cgi-bin/hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`);
  if (!r.ok) return undefined;
  const body = r.out.split('\r\n\r\n')[1]?.trim();
  return body ? body : undefined;
}

/** The node's own resolver, played by the test (test/lib/fake-resolver.ts): outside.test is 10.77.0.7. */
async function fakeUpstream(): Promise<{ port: number; socket: Socket }> {
  const port = await freePort();
  return { port, socket: await fakeResolver('127.0.0.1', port, [10, 77, 0, 7]) };
}

/** The Docker networks baton made for these nodes. */
async function nodeNetworks(docker: Docker, nodeIds: string[]): Promise<string[]> {
  const nets = await docker.listNetworks({ filters: { label: ['baton.node'] } });
  return nets.filter((n) => nodeIds.includes(n.Labels?.['baton.node'] ?? '')).map((n) => n.Name);
}

test('services find each other by name across nodes: VIP, DNSRR and aliases, tasks.<svc>, isolation, forwarding, node loss, stack rm', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  await requireTestImage(docker);
  const upstream = await fakeUpstream();
  const previous = process.env.BATON_DNS_UPSTREAM;
  process.env.BATON_DNS_UPSTREAM = `127.0.0.1:${upstream.port}`;
  t.after(() => {
    upstream.socket.close();
    if (previous === undefined) delete process.env.BATON_DNS_UPSTREAM;
    else process.env.BATON_DNS_UPSTREAM = previous;
  });
  const c = dockerCluster(t, docker, [], { addressPerNode: true });
  const m1 = nodeIdOf(await c.init('m1'));
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  const w2 = nodeIdOf(await c.join('w2', 'worker', 'm1'));
  await waitFor('3 ready nodes offering docker', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { status: { state: string }; description: { runtimes: string[] } }[];
    return list.length === 3 && list.every((n) => n.status.state === 'NODE_READY' && n.description.runtimes.includes('docker'));
  });

  const deploy = baton(['stack', 'deploy', '--detach=false', '--data-dir', c.dataDir('m1'), '-c', COMPOSE, 'app']);
  assert.equal(deploy.code, 0, deploy.stderr + deploy.stdout);
  for (const line of ['Creating network app_default', 'Creating network app_private']) assert.ok(deploy.stdout.split('\n').includes(line), `"${line}" in:\n${deploy.stdout}`);
  const client = running(tasks(c, 'm1', 'app_client'))[0]!.containerId;
  // A task's hostname ends with its id (the CGI answers with it).
  const taskOf = (hostname: string): string => hostname.slice(hostname.lastIndexOf('.') + 1);
  const apiTasks = new Set(running(tasks(c, 'm1', 'app_api')).map((x) => x.id));
  assert.equal(apiTasks.size, 2);

  // VIP: one address for the service's name and its stack-qualified name; connections spread
  // over both replicas, which run on other nodes than the client.
  const vip = await waitFor('api resolves to one address', async () => {
    const a = await resolveIn(client, 'api');
    return a.length === 1 && a[0];
  });
  assert.deepEqual(await resolveIn(client, 'app_api'), [vip]);
  assert.deepEqual(await resolveIn(client, 'API'), [vip], 'names are case-insensitive');
  const answered = new Set<string>();
  await waitFor('both api replicas answer through the name', async () => {
    const h = await hostnameVia(client, 'api', 8080);
    if (h) answered.add(taskOf(h));
    return answered.size === 2;
  }, { timeoutMs: 30_000 });
  assert.deepEqual([...answered].sort(), [...apiTasks].sort());

  // DNSRR: one address per task, for the name and the alias; each answers.
  const dbAddrs = await waitFor('db resolves to its two tasks', async () => {
    const a = await resolveIn(client, 'db');
    return a.length === 2 && a;
  });
  assert.deepEqual(await resolveIn(client, 'database'), dbAddrs);
  const dbAnswers = new Set<string>();
  for (const addr of dbAddrs) {
    const h = await waitFor(`db task at ${addr} answers`, () => hostnameVia(client, addr, 8080));
    dbAnswers.add(taskOf(h));
  }
  assert.equal(dbAnswers.size, 2, 'each DNSRR address is a different task');

  // tasks.<service>, then a scale-down it follows.
  assert.equal((await resolveIn(client, 'tasks.api')).length, 2);
  const scale = c.cli('m1', ['service', 'scale', 'app_api=1']);
  assert.equal(scale.code, 0, scale.stderr);
  await waitFor('tasks.api lists the one task left', async () => (await resolveIn(client, 'tasks.api')).length === 1);
  assert.deepEqual(await resolveIn(client, 'api'), [vip], 'the VIP stays');

  // Isolation: admin is on app_private only. From its own container it resolves; from the
  // client it neither resolves (the name goes to the node's resolver, which does not know it)
  // nor answers on its address.
  const admin = running(tasks(c, 'm1', 'app_admin'))[0]!.containerId;
  const adminVip = await waitFor('admin resolves on its own network', async () => {
    const a = await resolveIn(admin, 'admin');
    return a.length === 1 && a[0];
  });
  assert.ok(await waitFor('admin answers on its network', () => hostnameVia(admin, 'admin', 8080)));
  assert.deepEqual(await resolveIn(client, 'admin'), []);
  assert.equal(await hostnameVia(client, adminVip, 8080), undefined, 'a task of another network is refused at the address');
  assert.deepEqual(await resolveIn(admin, 'api'), [], 'and the other way round');
  // Nor by asking app_private's resolver itself (the host would accept the packets): its
  // names and its forwarding are for its own tasks only.
  const privateGateway = Object.values((await docker.getContainer(admin).inspect()).NetworkSettings.Networks)[0]?.Gateway ?? '';
  assert.match(privateGateway, /^10\.213\./);
  assert.deepEqual(await resolveIn(client, `admin ${privateGateway}`), []);
  assert.deepEqual(await resolveIn(client, `outside.test. ${privateGateway}`), []);
  // app_private is internal: its tasks get no name from outside.
  assert.deepEqual(await resolveIn(admin, 'outside.test.'), []);

  // Other names: the node's own resolver answers.
  // With a trailing dot: busybox's nslookup would otherwise only ask outside.test.<its search domain>.
  assert.deepEqual(await resolveIn(client, 'outside.test.'), ['10.77.0.7']);

  // The node of the remaining api task dies: the task is rescheduled on the other worker and
  // the name, unchanged, answers again.
  const apiTask = running(tasks(c, 'm1', 'app_api'))[0]!;
  const victim = apiTask.node === w1 ? 'w1' : 'w2';
  await c.kill(victim, 'SIGKILL');
  await waitFor('api answers again from the surviving worker', async () => {
    const h = await hostnameVia(client, 'api', 8080);
    return h !== undefined && !apiTasks.has(taskOf(h));
  }, { timeoutMs: 90_000, intervalMs: 500 });
  assert.deepEqual(await resolveIn(client, 'api'), [vip], 'the same VIP');

  const rm = baton(['stack', 'rm', '--data-dir', c.dataDir('m1'), 'app']);
  assert.equal(rm.code, 0, rm.stderr);
  for (const line of ['Removing network app_default', 'Removing network app_private']) assert.ok(rm.stdout.split('\n').includes(line), `"${line}" in:\n${rm.stdout}`);
  const alive = [m1, victim === 'w1' ? w2 : w1];
  await waitFor('no bridge left on the live nodes', async () => (await nodeNetworks(docker, alive)).length === 0, { timeoutMs: 60_000 }).catch(async (err: unknown) => {
    // Say what is left and what holds it, for whoever reads a failed run.
    const left = await Promise.all((await nodeNetworks(docker, alive)).map(async (name) => `${name}: ${Object.values((await docker.getNetwork(name).inspect()).Containers ?? {}).map((x) => x.Name).join(', ') || 'no container'}`));
    const stacks = c.cli('m1', ['service', 'ls']).stdout.trim();
    throw new Error(`${err instanceof Error ? err.message : String(err)}; left: ${left.join('; ')}; services: ${stacks}`);
  });
});
