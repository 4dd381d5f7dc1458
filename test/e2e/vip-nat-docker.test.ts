// The VIPs' kernel path (worker/network/vip-nat.ts, docs/routing-mesh.md) on a real engine and
// kernel, one node: a service whose tasks all run on the caller's node is reached through
// per-node NAT rules (labelled with the cluster and node), which follow a scale-down (a
// connection through the VIP then reaches only the live task), go when the service goes, and
// are removed when the daemon stops. Needs root (iptables) and Docker: fails under CI=true
// without them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cliOk, nodeIdOf, running, tasks } from '../lib/baton-cluster.js';
import { waitFor } from '../lib/wait.js';
import { dockerCluster, dockerOffered, requireDocker, requireTestImage } from '../lib/docker.js';
import { clientAndVip, dnatTotal, hostnameVia, requireIptables, rulesOf, targetsOf } from '../lib/vip-rules.js';

const PORT = 8080;

/** The node's NAT rules as iptables-save prints them, without their counters. */
function natRulesOf(nodeId: string): string[] {
  return rulesOf('nat', nodeId).map((l) => l.replace(/^\[\d+:\d+\] /, ''));
}

test('VIP kernel path: NAT rules per node for local tasks, following a scale-down, gone with the service and with the daemon', async (t) => {
  const docker = await requireDocker(t);
  if (!docker) return;
  if (!requireIptables(t)) return;
  await requireTestImage(docker);
  const c = dockerCluster(t, docker);
  const m1 = nodeIdOf(await c.init('m1'));
  await dockerOffered(c);
  cliOk(c, 'm1', ['network', 'create', 'vnet']);
  cliOk(c, 'm1', ['service', 'create', '--name', 'api', '--network', 'vnet', '--replicas', '2', '--expose', String(PORT), 'local/busybox:1', 'httpd', '-f', '-p', String(PORT), '-h', '/www']);
  cliOk(c, 'm1', ['service', 'create', '--name', 'client', '--network', 'vnet', 'local/busybox:1', 'sleep', '3600']);
  const { client, vip } = await clientAndVip(c, 'api');

  // The api's two containers on vnet's bridge: the rules send the VIP's port to exactly them.
  const apiAddrs = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const task of running(tasks(c, 'm1', 'api'))) {
      const nets = (await docker.getContainer(task.containerId).inspect()).NetworkSettings.Networks;
      const ip = Object.values(nets)[0]?.IPAddress ?? '';
      out.set(task.id, `${ip}:${PORT}`);
    }
    return out;
  };
  const both = await waitFor('two api tasks running', async () => {
    const a = await apiAddrs();
    return a.size === 2 && a;
  }, { timeoutMs: 60_000 });
  await waitFor('NAT rules for the VIP to both tasks', () => JSON.stringify(targetsOf(m1, vip)) === JSON.stringify([...both.values()].sort()), { timeoutMs: 30_000 });
  const rules = natRulesOf(m1);
  assert.ok(rules.some((l) => l.startsWith('-A PREROUTING ') && /-j BATON-VIP-[0-9a-f]{10}$/.test(l)), `a jump from PREROUTING, labelled:\n${rules.join('\n')}`);
  assert.ok(rules.some((l) => l.includes('-j SNAT --to-source ')), 'replies come back through the host (SNAT to the gateway)');

  // Both tasks answer through the VIP.
  const taskOf = (hostname: string): string => hostname.slice(hostname.lastIndexOf('.') + 1);
  const answered = new Set<string>();
  await waitFor('both api tasks answer through the VIP', async () => {
    const h = await hostnameVia(client, vip, PORT);
    if (h) answered.add(taskOf(h));
    return answered.size === 2;
  }, { timeoutMs: 30_000 });
  assert.deepEqual([...answered].sort(), [...both.keys()].sort());

  // Scale-down: the rules name the live task only, and every connection reaches it.
  cliOk(c, 'm1', ['service', 'scale', 'api=1']);
  const live = await waitFor('one api task left', async () => {
    const a = await apiAddrs();
    return a.size === 1 && running(tasks(c, 'm1', 'api')).length === 1 && a;
  }, { timeoutMs: 60_000 });
  await waitFor('NAT rules for the live task only', () => JSON.stringify(targetsOf(m1, vip)) === JSON.stringify([...live.values()]), { timeoutMs: 30_000 });
  const [liveId] = [...live.keys()];
  // Taken by the kernel, not relayed by the mesh (which listens on the VIP too): each
  // connection is counted by a DNAT rule.
  const before = dnatTotal(m1, vip);
  for (let i = 0; i < 8; i++) assert.equal(taskOf((await hostnameVia(client, vip, PORT)) ?? 'no answer.none'), liveId, `connection ${i} through the VIP`);
  assert.equal(dnatTotal(m1, vip) - before, 8, 'every connection went through the NAT rule');
  // The task calling its own service's VIP: left to the mesh (no hairpin on its bridge port), it answers.
  const own = running(tasks(c, 'm1', 'api'))[0]!.containerId;
  assert.equal(taskOf((await hostnameVia(own, vip, PORT)) ?? 'no answer.none'), liveId, 'a task reaches its own service by the VIP');

  // The service goes: so do its rules (the chains stay, empty, while the node runs).
  cliOk(c, 'm1', ['service', 'rm', 'api']);
  await waitFor('no NAT rule for the VIP', () => targetsOf(m1, vip).length === 0, { timeoutMs: 30_000 });
  assert.equal(natRulesOf(m1).filter((l) => l.includes('-j DNAT') || l.includes('-j SNAT')).length, 0);

  // The daemon stops (SIGTERM): jumps and chains are removed.
  await c.kill('m1', 'SIGTERM');
  assert.deepEqual(natRulesOf(m1), [], 'nothing of the node left in the nat table');
});
