// The node's Docker bridges on a real engine: made once per (node, network) with baton's
// labels and a free /22, found again by a new instance (a restarted node), kept apart for two
// nodes on one engine, internal when asked, never removed under a container, service
// addresses added to and removed from the interface as `ip` shows them, and nothing of ours
// left after close().
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { demuxLogs, requireDocker, TEST_IMAGE, TEST_LABELS } from '../lib/docker.js';
import { BridgeError, NodeBridges, bridgeInterfaceName, type NodeBridgesOptions } from '../../worker/network/bridges.js';
import { cidrContains, cidrsOverlap, formatIpv4, parseCidr, parseIpv4, serviceAddress } from '../../worker/network/subnet.js';

const run = promisify(execFile);

/** One cluster ID per run: the after hooks remove exactly what this run made. */
const CLUSTER = `c-br-${randomBytes(4).toString('hex')}`;

interface Ctx {
  after(fn: () => Promise<void>): void;
  skip(message?: string): void;
  diagnostic(message: string): void;
}

/** Removes this run's containers, then its networks (and any foreign network the test names). */
async function cleanup(docker: Docker, foreign: string[] = []): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`baton.cluster=${CLUSTER}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const nets = await docker.listNetworks({ filters: { label: [`baton.cluster=${CLUSTER}`] } });
  for (const n of [...nets.map((x) => x.Id), ...foreign]) await docker.getNetwork(n).remove().catch(() => undefined);
}

async function engine(t: Ctx, foreign: string[] = []): Promise<Docker | undefined> {
  const docker = await requireDocker(t);
  if (!docker) return undefined;
  t.after(() => cleanup(docker, foreign));
  return docker;
}

function bridges(docker: Docker, nodeId: string, over: Partial<NodeBridgesOptions> = {}): NodeBridges {
  return new NodeBridges({ docker, clusterId: CLUSTER, nodeId, extraLabels: TEST_LABELS, ...over });
}

function netId(): string {
  return `net${randomBytes(8).toString('hex')}`;
}

async function ipAddresses(dev: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', dev]);
  return [...stdout.matchAll(/inet ([0-9.]+)\//g)].map((m) => m[1] ?? '');
}

async function linkExists(dev: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', dev]);
    return true;
  } catch {
    return false;
  }
}

async function ownedBy(docker: Docker, nodeId: string, networkId: string): Promise<Docker.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [`baton.cluster=${CLUSTER}`, `baton.node=${nodeId}`, `baton.network=${networkId}`] } });
}

test('ensure makes one labelled bridge per network, concurrent calls included, and a new instance finds it', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const node = `node${randomBytes(6).toString('hex')}`;
  const nb = bridges(docker, node);
  const id = netId();
  // Three tasks of one network starting together.
  const [b, b2, b3] = await Promise.all([0, 1, 2].map(() => nb.ensure({ id, name: 'backend', internal: false })));
  assert.ok(b && b2 && b3);
  assert.deepEqual(b2, b);
  assert.deepEqual(b3, b);
  assert.equal((await ownedBy(docker, node, id)).length, 1, 'one bridge, not three');

  const info = await docker.getNetwork(b.dockerNetwork).inspect();
  assert.equal(info.Name, `baton_${id.slice(0, 12)}_${node.slice(0, 12)}`);
  assert.equal(info.Driver, 'bridge');
  assert.equal(info.Internal, false);
  for (const [k, v] of Object.entries({ ...TEST_LABELS, 'baton.cluster': CLUSTER, 'baton.node': node, 'baton.network': id, 'baton.network.name': 'backend' })) {
    assert.equal(info.Labels?.[k], v, k);
  }
  assert.equal(b.bridge, bridgeInterfaceName(node, id));
  assert.match(b.bridge, /^bt[0-9a-f]{10}$/);
  assert.equal(info.Options?.['com.docker.network.bridge.name'], b.bridge);
  const subnet = parseCidr(b.subnet);
  assert.equal(subnet.prefix, 22);
  assert.ok(cidrContains(parseCidr('10.213.0.0/16'), subnet.network), `${b.subnet} from the default pool`);
  const ipam = info.IPAM?.Config?.[0];
  assert.equal(ipam?.Subnet, b.subnet);
  assert.equal(ipam?.IPRange, b.subnet.replace(/\/22$/, '/24'));
  assert.equal(ipam?.Gateway, b.gateway);
  assert.equal(parseIpv4(b.gateway), subnet.network + 1);
  // The engine made the interface with the gateway's address on it.
  assert.deepEqual(await ipAddresses(b.bridge), [b.gateway]);
  // Nothing else on the engine overlaps it.
  for (const n of await docker.listNetworks()) {
    if (n.Id === b.dockerNetwork) continue;
    for (const c of n.IPAM?.Config ?? []) {
      const s = c.Subnet;
      if (s && !s.includes(':')) assert.ok(!cidrsOverlap(parseCidr(s, false), subnet), `${n.Name} ${s} overlaps ${b.subnet}`);
    }
  }

  // A restarted node: a new instance with nothing in memory.
  const again = bridges(docker, node);
  assert.deepEqual(await again.ensure({ id, name: 'backend', internal: false }), b);
  assert.equal((await ownedBy(docker, node, id)).length, 1);
  // Two instances of one node (an old and a new daemon overlapping) racing for a new network.
  const id2 = netId();
  const [x, y] = await Promise.all([nb.ensure({ id: id2, name: 'other', internal: false }), again.ensure({ id: id2, name: 'other', internal: false })]);
  assert.deepEqual(x, y);
  assert.equal((await ownedBy(docker, node, id2)).length, 1);
  assert.equal(await again.remove(id2), true);
  const own = await again.own();
  assert.deepEqual(own, [{ ...b, networkId: id, networkName: 'backend', internal: false }]);
});

test('two nodes on one engine get their own bridges with different subnets, even racing', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const id = netId();
  const a = bridges(docker, `nodeA${randomBytes(4).toString('hex')}`);
  const b = bridges(docker, `nodeB${randomBytes(4).toString('hex')}`);
  // Both look at the free blocks at the same moment, so both pick the same one: the engine
  // refuses the second as overlapping, and that node moves on to the next block.
  const [ba, bb] = await Promise.all([a.ensure({ id, name: 'shared', internal: false }), b.ensure({ id, name: 'shared', internal: false })]);
  assert.notEqual(ba.dockerNetwork, bb.dockerNetwork);
  assert.notEqual(ba.bridge, bb.bridge);
  assert.ok(!cidrsOverlap(parseCidr(ba.subnet), parseCidr(bb.subnet)), `${ba.subnet} and ${bb.subnet}`);
  assert.deepEqual((await a.own()).map((x) => x.dockerNetwork), [ba.dockerNetwork], "A sees only its own");
  assert.deepEqual((await b.own()).map((x) => x.dockerNetwork), [bb.dockerNetwork]);
  // Removing and closing on A leaves B's bridge alone.
  assert.equal(await a.remove(id), true);
  await a.close();
  await docker.getNetwork(bb.dockerNetwork).inspect();
  await assert.rejects(docker.getNetwork(ba.dockerNetwork).inspect());
});

test('an internal network gets a bridge without NAT to the outside (Docker\'s Internal would publish no port for the mesh)', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const nb = bridges(docker, `node${randomBytes(6).toString('hex')}`);
  const id = netId();
  const b = await nb.ensure({ id, name: 'private', internal: true });
  const info = await docker.getNetwork(b.dockerNetwork).inspect();
  assert.equal(info.Internal, false);
  assert.equal(info.Options?.['com.docker.network.bridge.enable_ip_masquerade'], 'false');
  assert.equal((await nb.own())[0]?.internal, true);
});

test('remove is refused while a container is on the bridge, created or running', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const nb = bridges(docker, `node${randomBytes(6).toString('hex')}`);
  const id = netId();
  const b = await nb.ensure({ id, name: 'busy', internal: false });
  const c = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sleep', '60'],
    Labels: { ...TEST_LABELS, 'baton.cluster': CLUSTER },
    HostConfig: { NetworkMode: b.dockerNetwork, Init: true },
  });
  // Created but never started: the engine lists no endpoint, and would let the bridge go.
  assert.equal(await nb.remove(id), false);
  await c.start();
  assert.equal(await nb.remove(id), false);
  await nb.close();
  await docker.getNetwork(b.dockerNetwork).inspect(); // still there after both
  await c.remove({ force: true });
  assert.equal(await nb.remove(id), true);
  await assert.rejects(docker.getNetwork(b.dockerNetwork).inspect());
  assert.equal(await linkExists(b.bridge), false);
  assert.equal(await nb.remove(id), true, 'absent is removed');
});

test('service addresses: added and removed as ip shows them; twice is fine; bad input one line', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const nb = bridges(docker, `node${randomBytes(6).toString('hex')}`);
  const b = await nb.ensure({ id: netId(), name: 'vip', internal: false });
  const base = parseCidr(b.subnet).network;
  const vip = [(base >>> 24) & 0xff, (base >>> 16) & 0xff, ((base >>> 8) & 0xff) + 1, 7].join('.');
  await nb.addAddress(b.bridge, vip);
  await nb.addAddress(b.bridge, vip);
  assert.deepEqual((await ipAddresses(b.bridge)).sort(), [b.gateway, vip].sort());
  assert.deepEqual((await nb.addresses(b.bridge)).sort(), [b.gateway, vip].sort());
  await nb.removeAddress(b.bridge, vip);
  await nb.removeAddress(b.bridge, vip);
  assert.deepEqual(await ipAddresses(b.bridge), [b.gateway]);
  assert.deepEqual(await nb.addresses(b.bridge), [b.gateway]);

  const oneLine = (pattern: RegExp) => (err: unknown) => err instanceof BridgeError && pattern.test(err.message) && !err.message.includes('\n');
  await assert.rejects(nb.addAddress(b.bridge, '10.213.1'), oneLine(/"10\.213\.1" is not an IPv4 address/));
  await assert.rejects(nb.addAddress('-x', vip), oneLine(/"-x" is not an interface name/));
  await assert.rejects(nb.addAddress('btnosuchdev0', vip), oneLine(/^ip addr add .* dev btnosuchdev0: .*(Cannot find device|does not exist)/));
  await assert.rejects(nb.addresses('btnosuchdev0'), oneLine(/^ip -j addr show dev btnosuchdev0: /));
});

test('close removes every bridge of the node that no container uses, with its addresses', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const node = `node${randomBytes(6).toString('hex')}`;
  const nb = bridges(docker, node);
  const one = await nb.ensure({ id: netId(), name: 'one', internal: false });
  const two = await nb.ensure({ id: netId(), name: 'two', internal: true });
  assert.ok(!cidrsOverlap(parseCidr(one.subnet), parseCidr(two.subnet)));
  const base = parseCidr(one.subnet).network;
  await nb.addAddress(one.bridge, [(base >>> 24) & 0xff, (base >>> 16) & 0xff, ((base >>> 8) & 0xff) + 1, 0].join('.'));
  assert.equal((await nb.own()).length, 2);
  await nb.close();
  assert.deepEqual(await nb.own(), []);
  assert.deepEqual(await docker.listNetworks({ filters: { label: [`baton.cluster=${CLUSTER}`, `baton.node=${node}`] } }), []);
  assert.equal(await linkExists(one.bridge), false);
  assert.equal(await linkExists(two.bridge), false);
  await nb.close(); // nothing left: fine
});

test('a subnet someone else uses is skipped; an exhausted pool is one clear line', async (t) => {
  // A pool of its own (two /22s), away from the default one other tests use.
  const foreign = `bt-e2e-foreign-${randomBytes(4).toString('hex')}`;
  const docker = await engine(t, [foreign]);
  if (!docker) return;
  const pool = '10.214.248.0/21';
  await docker.createNetwork({ Name: foreign, CheckDuplicate: true, Driver: 'bridge', Labels: { ...TEST_LABELS }, IPAM: { Config: [{ Subnet: '10.214.249.0/24' }] } });
  const nb = bridges(docker, `node${randomBytes(6).toString('hex')}`, { pool });
  const b = await nb.ensure({ id: netId(), name: 'first', internal: false });
  assert.equal(b.subnet, '10.214.252.0/22', 'the block holding the foreign /24 is skipped');
  await assert.rejects(nb.ensure({ id: netId(), name: 'second', internal: false }), (err: unknown) => {
    assert.ok(err instanceof BridgeError);
    assert.equal(err.message, 'no free /22 left in the bridge address pool 10.214.248.0/21 for network "second"');
    return true;
  });
  assert.throws(() => bridges(docker, 'n', { pool: '10.214.0.0/24' }), /bridge address pool 10\.214\.0\.0\/24 is smaller than one \/22/);
  assert.throws(() => bridges(docker, 'n', { pool: '10.214.0.1/16' }), /bridge address pool: .*host bits set/);
  await nb.close();
});

test('a container on an internal bridge reaches a listener on a service address of that bridge', async (t) => {
  const docker = await engine(t);
  if (!docker) return;
  const nb = bridges(docker, `node${randomBytes(6).toString('hex')}`);
  const b = await nb.ensure({ id: netId(), name: 'inside', internal: true });
  const vip = formatIpv4(serviceAddress(parseCidr(b.subnet), 3));
  await nb.addAddress(b.bridge, vip);
  // What the node's mesh does on a service address: listen there, on the host.
  const server: Server = createServer((_req, res) => res.end('from the node\n'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, vip, resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const c = await docker.createContainer({
    Image: TEST_IMAGE,
    // (nc, not wget: this static busybox's wget crashes.)
    Cmd: ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${vip} ${port}`],
    Labels: { ...TEST_LABELS, 'baton.cluster': CLUSTER },
    HostConfig: { NetworkMode: b.dockerNetwork },
  });
  await c.start();
  const done = (await c.wait()) as { StatusCode: number };
  const logs = demuxLogs(await c.logs({ stdout: true, stderr: true, follow: false }));
  assert.equal(done.StatusCode, 0, logs.stderr);
  assert.match(logs.stdout, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nfrom the node\n$/);
});

test('an unreachable engine: one line, not a stack trace', async () => {
  // Needs no engine: the point is one that is not there.
  const nb = new NodeBridges({ docker: new Docker({ socketPath: '/nonexistent/docker.sock' }), clusterId: CLUSTER, nodeId: 'n' });
  for (const call of [() => nb.ensure({ id: 'x', name: 'x', internal: false }), () => nb.own(), () => nb.remove('x')]) {
    await assert.rejects(call(), (err: unknown) => err instanceof BridgeError && /^docker: .*nonexistent\/docker\.sock/.test(err.message) && !err.message.includes('\n'));
  }
  await nb.close(); // best effort: logged, not thrown
  await assert.rejects(nb.ensure({ id: '', name: 'x', internal: false }), /a network ID is required/);
});
