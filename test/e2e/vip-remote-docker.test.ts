// The VIPs' kernel path to tasks on another node (worker/network/vip-nat.ts, docs/routing-mesh.md)
// on a real engine and kernel, two nodes on 127.0.0.1 and 127.0.0.2: a client on the manager
// calls a service with one task on each node; the manager's rules DNAT the VIP to its local
// task's address and to the worker's address and the other task's host port (statistic shares
// over both), with route_localnet set on its bridge (the target is a loopback address) and the
// loopback guard in the filter table. Connections reach both tasks through the rules (their
// counters move by one per connection). The worker drained, the remote task is gone: the rules
// name the local task only, every connection reaches it, route_localnet is set back. The worker
// back, the mixed rules return; the manager's daemon stopped, nothing of it is left (nat and
// filter rules, route_localnet). Needs root (iptables, sysctl) and Docker: fails under CI=true
// without them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cliOk, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { dockerCluster, dockerOffered, requireDocker, requireTestImage } from '../lib/docker.js';
import { clientAndVip, dnatConnections, dnatRules, dnatTotal, hostnameVia, requireIptables, rulesOf, targetsOf } from '../lib/vip-rules.js';

const PORT = 8080;

function routeLocalnet(bridge: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim();
  } catch {
    return undefined; // the bridge is gone, and its setting with it
  }
}

test('VIP kernel path to another node: DNAT to its address and host port beside the local task, route_localnet and its guard, following a drain, nothing left at stop', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  if (!requireIptables(t)) return;
  await requireTestImage(docker);
  const c = dockerCluster(t, docker, [], { addressPerNode: true });
  const m1 = nodeIdOf(await c.init('m1'));
  const w1 = nodeIdOf(await c.join('w1', 'worker', 'm1'));
  await dockerOffered(c);
  cliOk(c, 'm1', ['network', 'create', 'vnet']);
  cliOk(c, 'm1', ['service', 'create', '--name', 'api', '--network', 'vnet', '--replicas', '2', '--replicas-max-per-node', '1', '--expose', String(PORT), 'local/busybox:1', 'httpd', '-f', '-p', String(PORT), '-h', '/www']);
  cliOk(c, 'm1', ['service', 'create', '--name', 'client', '--network', 'vnet', '--constraint', 'node.role==manager', 'local/busybox:1', 'sleep', '3600']);
  const { client, vip } = await clientAndVip(c, 'api');

  // Where the manager's rules should send the VIP: the local task at its address on vnet's
  // bridge, the worker's at 127.0.0.2 and its host port (what the mesh dials).
  const apiTargets = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const task of running(tasks(c, 'm1', 'api'))) {
      const info = await docker.getContainer(task.containerId).inspect();
      if (task.node === m1) {
        out.set(task.id, `${Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? ''}:${PORT}`);
      } else {
        const b = info.NetworkSettings.Ports[`${PORT}/tcp`]?.[0];
        out.set(task.id, `${b?.HostIp ?? ''}:${b?.HostPort ?? ''}`);
      }
    }
    return out;
  };
  const mixed = async (): Promise<Map<string, string>> => {
    const both = await waitFor('an api task on each node', async () => {
      const a = await apiTargets();
      return a.size === 2 && [...a.values()].some((x) => x.startsWith('127.0.0.2:')) && a;
    }, { timeoutMs: 90_000 });
    await waitFor("the manager's rules for the VIP: its task and the worker's", () => JSON.stringify(targetsOf(m1, vip)) === JSON.stringify([...both.values()].sort()), { timeoutMs: 30_000 });
    return both;
  };
  const both = await mixed();
  const remote = [...both].find(([, a]) => a.startsWith('127.0.0.2:'))!;
  const bridge = /-i (\S+) /.exec(dnatRules(m1, vip)[0]!)?.[1] ?? '';
  assert.equal(routeLocalnet(bridge), '1', `route_localnet on the manager's bridge ${bridge}: a DNAT to 127.0.0.2 from it is a martian without it`);
  const guard = rulesOf('filter', m1);
  assert.ok(guard.some((l) => /^\[\d+:\d+\] -A INPUT .*-j BATON-VIPF-[0-9a-f]{10}$/.test(l)), `a jump from INPUT to the node's guard:\n${guard.join('\n')}`);
  assert.ok(guard.some((l) => l.includes(` -i ${bridge} `) && l.includes(' -d 127.0.0.0/8 ') && l.endsWith('-j DROP')), `the guard drops what our DNAT did not send to loopback:\n${guard.join('\n')}`);
  assert.ok(rulesOf('nat', m1).some((l) => l.includes('-j MASQUERADE')), 'connections to another node leave with the node as their source (separate machines)');

  // Both tasks answer through the VIP, and every connection is the rules' (the mesh, which
  // listens on the VIP too, would not move the counters).
  const taskOf = (hostname: string): string => hostname.slice(hostname.lastIndexOf('.') + 1);
  const before = dnatConnections(m1, vip);
  const answered = new Map<string, number>();
  let calls = 0;
  let unanswered = 0;
  await waitFor('both api tasks answer through the VIP', async () => {
    calls++;
    const h = await hostnameVia(client, vip, PORT);
    if (!h) unanswered++;
    else answered.set(taskOf(h), (answered.get(taskOf(h)) ?? 0) + 1);
    return answered.size === 2;
  }, { timeoutMs: 60_000 });
  assert.equal(unanswered, 0, `every one of ${calls} connections through the VIP answered`);
  assert.deepEqual([...answered.keys()].sort(), [...both.keys()].sort());
  const after = dnatConnections(m1, vip);
  assert.equal([...after.values()].reduce((a, b) => a + b, 0) - [...before.values()].reduce((a, b) => a + b, 0), calls, 'every connection went through a DNAT rule');
  assert.equal((after.get(remote[1]) ?? 0) - (before.get(remote[1]) ?? 0), answered.get(remote[0]), "the worker's task got exactly the connections its rule counted");

  // The worker drained: its task is gone, the rules name the local one only, every connection
  // reaches it, and route_localnet is set back (no rule targets loopback any more).
  cliOk(c, 'm1', ['node', 'update', '--availability', 'drain', w1]);
  const [localId, localAddr] = [...both].find(([, a]) => !a.startsWith('127.'))!;
  await waitFor('the rules name the local task only', () => JSON.stringify(targetsOf(m1, vip)) === JSON.stringify([localAddr]), { timeoutMs: 60_000 });
  // Set back just after the rules that needed it are gone (vip-nat.ts: rules first, then the
  // sysctl, so that no rule DNATs to loopback without it): a moment after the rules change.
  await waitFor('route_localnet set back on the bridge', () => routeLocalnet(bridge) === '0', { timeoutMs: 10_000 });
  assert.ok(!rulesOf('filter', m1).some((l) => l.endsWith('-j DROP')), 'no guard without route_localnet');
  const drained = dnatTotal(m1, vip);
  for (let i = 0; i < 8; i++) assert.equal(taskOf((await hostnameVia(client, vip, PORT)) ?? 'no answer.none'), localId, `connection ${i} through the VIP after the drain`);
  assert.equal(dnatTotal(m1, vip) - drained, 8, 'all through the rule to the local task');

  // The worker back: the pending replica runs there again, and the mixed rules return.
  cliOk(c, 'm1', ['node', 'update', '--availability', 'active', w1]);
  await mixed();
  assert.equal(routeLocalnet(bridge), '1');

  // The manager's daemon stops (SIGTERM): its jumps and chains go from both tables, and
  // route_localnet is set back on its bridge (which stays while its tasks run).
  await c.kill('m1', 'SIGTERM');
  assert.deepEqual(rulesOf('nat', m1), [], 'nothing of the node left in the nat table');
  assert.deepEqual(rulesOf('filter', m1), [], 'nor in the filter table');
  assert.notEqual(routeLocalnet(bridge), '1', 'route_localnet set back (or the bridge gone)');
});
