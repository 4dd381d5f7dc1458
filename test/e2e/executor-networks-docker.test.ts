// The docker executor with baton networks on a real engine: a task on two of the node's
// bridges (the first at create, the second connected before the start, no aliases, the
// node's resolver as Dns), a prepare interrupted before the connect finished on the next, a
// missing network failing in one line with nothing left behind, and exposed ports (the run
// spec's and the image's EXPOSE) bound to ephemeral host ports and reported.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { requireDocker, TEST_IMAGE, TEST_LABELS } from '../lib/docker.js';
import { codeOf, getText, taskSpec } from '../lib/executor.js';
import { createDockerExecutor, type Executor, type TaskRunSpec } from '../../worker/executor/index.js';
import { NodeBridges, type NodeBridge } from '../../worker/network/bridges.js';
import { cidrContains, containerRange, parseCidr, parseIpv4 } from '../../worker/network/subnet.js';

/** One cluster ID per run: the after hooks remove exactly what this run made. */
const CLUSTER = `c-exn-${randomBytes(4).toString('hex')}`;
const NODE = 'n-a';

interface Ctx {
  after(fn: () => Promise<void>): void;
  skip(message?: string): void;
  diagnostic(message: string): void;
}

/** The engine (or a skip); afterwards this run's containers, then its bridges, then `images`. */
async function engine(t: Ctx, images: string[] = []): Promise<Docker | undefined> {
  const docker = await requireDocker(t);
  if (!docker) return undefined;
  t.after(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`baton.cluster=${CLUSTER}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    await new NodeBridges({ docker, clusterId: CLUSTER, nodeId: NODE }).close();
    for (const image of images) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  });
  return docker;
}

function executor(docker: Docker): Executor {
  return createDockerExecutor({ clusterId: CLUSTER, nodeId: NODE, docker, extraLabels: TEST_LABELS });
}

function spec(over: Partial<TaskRunSpec> = {}): TaskRunSpec {
  return taskSpec(CLUSTER, { runtime: 'docker', image: TEST_IMAGE, nodeId: NODE, ...over });
}

async function twoBridges(docker: Docker): Promise<[NodeBridge, NodeBridge]> {
  const nb = new NodeBridges({ docker, clusterId: CLUSTER, nodeId: NODE, extraLabels: TEST_LABELS });
  const a = await nb.ensure({ id: `front${randomBytes(6).toString('hex')}`, name: 'front', internal: false });
  const b = await nb.ensure({ id: `back${randomBytes(6).toString('hex')}`, name: 'back', internal: true });
  return [a, b];
}

const SLEEP = { command: ['sleep'], args: ['60'] };

/** The container's endpoint on a bridge, keyed by the network's name in inspect. */
function endpointOn(info: Docker.ContainerInspectInfo, netInfo: Docker.NetworkInspectInfo): Docker.NetworkInfo | undefined {
  return info.NetworkSettings.Networks[netInfo.Name];
}

test('a task on two bridges: joined to both before it starts, the resolver set, no aliases', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const [a, b] = await twoBridges(docker);
  const exec = executor(docker);
  const s = spec({ ...SLEEP, networks: [{ dockerNetwork: a.dockerNetwork }, { dockerNetwork: b.dockerNetwork }], dns: [a.gateway] });
  await exec.prepare(s);
  await exec.prepare(s); // idempotent
  const obs = await exec.start(s.taskId);
  assert.equal(obs.state, 'running');

  const info = await docker.getContainer(obs.runtimeId).inspect();
  assert.equal(info.HostConfig.NetworkMode, a.dockerNetwork);
  assert.deepEqual(info.HostConfig.Dns, [a.gateway]);
  const [netA, netB] = await Promise.all([docker.getNetwork(a.dockerNetwork).inspect(), docker.getNetwork(b.dockerNetwork).inspect()]);
  assert.deepEqual(Object.keys(info.NetworkSettings.Networks).sort(), [netA.Name, netB.Name].sort(), 'on both bridges and nothing else');
  for (const [bridge, net] of [
    [a, netA],
    [b, netB],
  ] as const) {
    const ep = endpointOn(info, net);
    assert.ok(ep, net.Name);
    assert.equal(ep.NetworkID, bridge.dockerNetwork);
    assert.equal(ep.Gateway, bridge.gateway);
    assert.ok(cidrContains(containerRange(parseCidr(bridge.subnet)), parseIpv4(ep.IPAddress)), `${ep.IPAddress} in the containers' /24 of ${bridge.subnet}`);
    // Docker itself names every endpoint by the container's short ID and its hostname (the
    // task name); anything more (the service's name) would make its embedded DNS answer
    // instead of the node's resolver.
    // (The typings leave Aliases untyped; the engine sends a list of strings or null.)
    const aliases = (ep.Aliases ?? []) as string[];
    for (const alias of aliases) assert.ok(info.Id.startsWith(alias) || alias === info.Config.Hostname, `alias ${alias} on ${net.Name}`);
    assert.ok(!aliases.includes(s.serviceName));
  }
  await exec.remove(s.taskId);
});

test('a prepare interrupted before the second network joins is finished by the next one', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const [a, b] = await twoBridges(docker);
  const exec = executor(docker);
  const s = spec({ ...SLEEP, networks: [{ dockerNetwork: a.dockerNetwork }, { dockerNetwork: b.dockerNetwork }] });
  await exec.prepare(s);
  const created = await exec.inspect(s.taskId);
  assert.equal(created?.state, 'created');
  const netB = await docker.getNetwork(b.dockerNetwork).inspect();
  // What an agent killed between create and connect leaves behind.
  await docker.getNetwork(b.dockerNetwork).disconnect({ Container: created.runtimeId });
  assert.equal((await docker.getContainer(created.runtimeId).inspect()).NetworkSettings.Networks[netB.Name], undefined);
  await exec.prepare(s);
  const obs = await exec.start(s.taskId);
  assert.equal(obs.runtimeId, created.runtimeId, 'the same container');
  const info = await docker.getContainer(obs.runtimeId).inspect();
  assert.equal(endpointOn(info, netB)?.NetworkID, b.dockerNetwork);
});

test('a network missing on the engine fails prepare in one line and leaves no container', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const [a] = await twoBridges(docker);
  const exec = executor(docker);
  for (const networks of [[{ dockerNetwork: 'baton_nosuchnet_n-a' }], [{ dockerNetwork: a.dockerNetwork }, { dockerNetwork: 'baton_nosuchnet_n-a' }]]) {
    const s = spec({ ...SLEEP, networks });
    await assert.rejects(exec.prepare(s), (err: unknown) => {
      assert.equal(codeOf(err), 'INVALID_SPEC');
      assert.equal((err as Error).message, `task ${s.taskId}: network "baton_nosuchnet_n-a" is not on this node's engine`);
      return true;
    });
    assert.equal(await exec.inspect(s.taskId), undefined, JSON.stringify(networks));
  }
});

test("exposed ports and the image's EXPOSE ports get ephemeral host ports, reported with the others", async (t) => {
  const image = `local/baton-e2e-expose:${randomBytes(4).toString('hex')}`;
  const docker = await engine(t, [image]);
  if (!docker) return;
  // An image with EXPOSE 8080 and 5353/udp, made from the test image without a registry.
  const base = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { ...TEST_LABELS, 'baton.cluster': CLUSTER } });
  const [repo, tag] = image.split(':');
  await base.commit({ repo, tag, changes: ['EXPOSE 8080', 'EXPOSE 5353/udp'] });
  await base.remove({ force: true });
  const exposed = Object.keys((await docker.getImage(image).inspect()).Config.ExposedPorts ?? {}).sort();
  assert.deepEqual(exposed, ['5353/udp', '8080/tcp']);

  const [a] = await twoBridges(docker);
  const exec = executor(docker);
  const httpd = { command: ['httpd'], args: ['-f', '-p', '8080', '-h', '/www'] };
  const s = spec({
    ...httpd,
    image,
    networks: [{ dockerNetwork: a.dockerNetwork }],
    ports: [{ targetPort: 80, protocol: 'tcp' }],
    // 8080 is the image's too: bound once.
    expose: [
      { targetPort: 8080, protocol: 'tcp' },
      { targetPort: 9000, protocol: 'tcp' },
    ],
  });
  await exec.prepare(s);
  const obs = await exec.start(s.taskId);
  assert.deepEqual(
    obs.ports.map((p) => `${p.targetPort}/${p.protocol}`),
    ['80/tcp', '5353/udp', '8080/tcp', '9000/tcp'],
  );
  assert.ok(obs.ports.every((p) => p.hostPort > 0));
  const info = await docker.getContainer(obs.runtimeId).inspect();
  const bindings = info.HostConfig.PortBindings as Docker.PortMap;
  for (const key of ['80/tcp', '5353/udp', '8080/tcp', '9000/tcp']) assert.deepEqual(bindings[key], [{ HostIp: '127.0.0.1', HostPort: '' }], key);
  const web = obs.ports.find((p) => p.targetPort === 8080);
  assert.equal(await getText(`http://127.0.0.1:${web?.hostPort}/`), 'ok\n', "the image's port answers through its host port");
  assert.deepEqual(await exec.list().then((l) => l.find((o) => o.taskId === s.taskId)?.ports), obs.ports, 'reported alike on adoption');

  // Off baton networks the image's EXPOSE list is not bound (as before networks); `expose` is.
  const plain = spec({ ...httpd, image, expose: [{ targetPort: 9000, protocol: 'tcp' }] });
  await exec.prepare(plain);
  const plainObs = await exec.start(plain.taskId);
  assert.deepEqual(
    plainObs.ports.map((p) => `${p.targetPort}/${p.protocol}`),
    ['9000/tcp'],
  );
  await exec.remove(plain.taskId);
  await exec.remove(s.taskId);
});
