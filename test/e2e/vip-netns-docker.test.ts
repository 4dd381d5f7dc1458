// A service called by name across separate hosts, each with its own Docker engine and kernel
// tables (test/lib/netns-engines.ts: a network namespace per node on 10.77.0.0/24, a dockerd in
// each), as a user's cluster runs: unlike vip-remote-docker (nodes on 127.0.0.1/127.0.0.2 of one
// engine, the other node's task reached through docker-proxy), the caller's node DNATs the VIP
// to the other host's address and the task's host port, and that host's own Docker DNAT (its
// DOCKER chain, no proxy) takes it to the task. A client on node 1 resolves `api` to the VIP,
// its GETs are answered by the api task on node 2, node 1's rule counts each connection and so
// does node 2's DOCKER rule for the host port; no route_localnet and no loopback guard are
// needed (the target is not a loopback address). After `service rm` and the daemons' stop
// nothing of baton is left in either host (rules, containers, networks), and after the engines'
// removal nothing of them either (processes, mounts, dirs, namespaces). Needs root, iproute2,
// dockerd and the test image in the machine's engine: fails under CI=true without them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cliOk, listedObjects, nodeIdOf, running, tasks, BatonCluster } from '../lib/baton-cluster.js';
import { NetnsEngines, requireNetnsEngines } from '../lib/netns-engines.js';
import { clientAndVip, dnatTotal, hostnameVia, rulesOf, targetsOf } from '../lib/vip-rules.js';
import { waitFor } from '../lib/wait.js';

const PORT = 8080;

test('VIP across separate hosts (an engine per network namespace): the name answers from the other host through our DNAT and its own Docker DNAT, nothing left after', { timeout: 180_000 }, async (t) => {
  if (!requireNetnsEngines(t)) return;
  const engines = await NetnsEngines.start(`bv${process.pid}`, 2);
  const c = new BatonCluster([], { hostOf: engines.hostOf });
  t.after(async () => {
    await c.stopAll();
    engines.remove();
    c.cleanup();
  });
  const ns1 = engines.hosts.namespace(0);
  const dh1 = engines.dockerHost(0);

  const m1 = nodeIdOf(await c.init('m1'));
  nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await waitFor('both nodes offer docker (each its own engine)', () => {
    const list = listedObjects(c, 'm1', ['node', 'ls'], 'node') as { description: { runtimes: string[] } }[];
    return list.length === 2 && list.every((n) => n.description.runtimes.includes('docker'));
  }, { timeoutMs: 60_000 });
  cliOk(c, 'm1', ['network', 'create', 'vnet']);
  cliOk(c, 'm1', ['service', 'create', '--name', 'api', '--network', 'vnet', '--constraint', 'node.role==worker', '--expose', String(PORT), 'local/busybox:1', 'httpd', '-f', '-p', String(PORT), '-h', '/www']);
  cliOk(c, 'm1', ['service', 'create', '--name', 'client', '--network', 'vnet', '--constraint', 'node.role==manager', 'local/busybox:1', 'sleep', '3600']);
  const { client, vip } = await clientAndVip(c, 'api', dh1);

  // The api task runs in host 2's engine (not host 1's), its port published on host 2's address.
  const api = await waitFor('the api task runs', () => running(tasks(c, 'm1', 'api'))[0], { timeoutMs: 60_000 });
  const info = await engines.docker(1).getContainer(api.containerId).inspect();
  await assert.rejects(engines.docker(0).getContainer(api.containerId).inspect(), 'the api container is not in host 1\'s engine');
  const bound = info.NetworkSettings.Ports[`${PORT}/tcp`]?.[0];
  assert.ok(bound?.HostPort, `the api task's port ${PORT} is published on host 2: ${JSON.stringify(info.NetworkSettings.Ports)}`);
  const target = `${engines.hosts.host(1)}:${bound.HostPort}`;
  await waitFor(`node 1's rules DNAT the VIP to ${target}`, () => JSON.stringify(targetsOf(m1, vip, ns1)) === JSON.stringify([target]), { timeoutMs: 30_000 });

  // Not a loopback target: no route_localnet and no guard; the connection leaves masqueraded.
  const bridge = /-i (\S+) /.exec(rulesOf('nat', m1, ns1).find((l) => l.includes('-j DNAT'))!)?.[1] ?? '';
  assert.equal(engines.exec(0, 'cat', [`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`]).stdout.trim(), '0', `route_localnet stays off on node 1's bridge ${bridge}`);
  assert.ok(!rulesOf('filter', m1, ns1).some((l) => l.endsWith('-j DROP')), 'no loopback guard');
  assert.ok(rulesOf('nat', m1, ns1).some((l) => l.includes('-j MASQUERADE')), 'to the other host with node 1 as the source');
  // Host 2's own rule for the host port (Docker's DOCKER chain): what takes the connection there.
  const dockerRule = (): number => {
    const saved = engines.exec(1, 'iptables-save', ['-c', '-t', 'nat']);
    assert.equal(saved.status, 0, saved.stderr);
    const line = saved.stdout.split('\n').find((l) => l.includes(' -A DOCKER ') && l.includes(`--dport ${bound.HostPort} `) && l.includes('-j DNAT'));
    assert.ok(line, `host 2's DOCKER chain DNATs port ${bound.HostPort}:\n${saved.stdout}`);
    return Number(/^\[(\d+):/.exec(line)?.[1] ?? NaN);
  };

  const ours0 = dnatTotal(m1, vip, ns1);
  const theirs0 = dockerRule();
  const calls = 6;
  for (let i = 0; i < calls; i++) {
    const h = await hostnameVia(client, vip, PORT, dh1);
    assert.equal(h?.slice(h.lastIndexOf('.') + 1), api.id, `call ${i} through the VIP answered by the api task on host 2 (got ${h ?? 'no answer'})`);
  }
  assert.equal(dnatTotal(m1, vip, ns1) - ours0, calls, "every call went through node 1's DNAT rule");
  assert.equal(dockerRule() - theirs0, calls, "and through host 2's own DOCKER DNAT rule (no docker-proxy on the path)");

  // service rm: the tasks go from both engines, the VIP's rules from node 1.
  cliOk(c, 'm1', ['service', 'rm', 'api', 'client']);
  const batonContainers = async (): Promise<number> => {
    let n = 0;
    for (let i = 0; i < 2; i++) n += (await engines.docker(i).listContainers({ all: true, filters: { label: ['baton.cluster'] } })).length;
    return n;
  };
  await waitFor('no task container left in either engine', async () => (await batonContainers()) === 0, { timeoutMs: 60_000 });
  await waitFor("node 1's rules for the VIP gone", () => targetsOf(m1, vip, ns1).length === 0, { timeoutMs: 30_000 });

  // The daemons stopped (SIGTERM): nothing of theirs in either host's tables or engine.
  await Promise.all([c.kill('w1', 'SIGTERM'), c.kill('m1', 'SIGTERM')]);
  assert.deepEqual(rulesOf('nat', m1, ns1), [], "nothing of node 1 in its host's nat table");
  assert.deepEqual(rulesOf('filter', m1, ns1), [], 'nor in its filter table');
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await engines.docker(i).listNetworks({ filters: { label: ['baton.cluster'] } }), [], `no baton network left in host ${i + 1}'s engine`);
  }
  assert.equal(await batonContainers(), 0);

  // The hosts themselves: engines, their processes, mounts, dirs and namespaces, all gone.
  engines.remove();
  assert.deepEqual(engines.leftovers(), [], 'nothing of the engines or hosts left');
});
