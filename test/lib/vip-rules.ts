// What the e2e tests of the VIPs' kernel path (worker/network/vip-nat.ts) read from the real
// kernel: a node's rules (found by the comment naming it), their DNAT targets and counters, and
// what a task's call through an address answers. One copy for test/e2e/vip-*-docker.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { running, tasks, type BatonCluster } from './baton-cluster.js';
import { resolveIn, shIn } from './docker.js';
import { waitFor } from './wait.js';

/** Fail (CI=true) or skip when iptables cannot be used here (not root); true when the test may go on. */
export function requireIptables(t: { skip(message?: string): void }): boolean {
  if (process.getuid?.() === 0 && spawnSync('iptables-save', ['-t', 'nat']).status === 0) return true;
  if (process.env.CI === 'true') throw new Error('iptables needs root (CI=true: this test must run)');
  t.skip('iptables needs root');
  return false;
}

/**
 * The node's rules in one table as `iptables-save -c` prints them (counters first); `netns`:
 * the network namespace of the node's host when it has one (test/lib/netns-engines.ts).
 */
export function rulesOf(table: 'nat' | 'filter', nodeId: string, netns?: string): string[] {
  const save = ['iptables-save', '-c', '-t', table];
  const [cmd, ...args] = netns === undefined ? save : ['ip', 'netns', 'exec', netns, ...save];
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.includes(` node ${nodeId}"`));
}

/** The node's DNAT rules for `vip`. */
export function dnatRules(nodeId: string, vip: string, netns?: string): string[] {
  return rulesOf('nat', nodeId, netns).filter((l) => l.includes(`-d ${vip}/32`) && l.includes('-j DNAT'));
}

/** The DNAT targets ("ip:port") of the node's rules for `vip`, sorted. */
export function targetsOf(nodeId: string, vip: string, netns?: string): string[] {
  return dnatRules(nodeId, vip, netns)
    .map((l) => /--to-destination (\S+)/.exec(l)?.[1] ?? '')
    .sort();
}

/** Connections the node's DNAT rules for `vip` took so far, per target (the nat table sees a connection's first packet only). */
export function dnatConnections(nodeId: string, vip: string, netns?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of dnatRules(nodeId, vip, netns)) out.set(/--to-destination (\S+)/.exec(l)?.[1] ?? '', Number(/^\[(\d+):/.exec(l)?.[1] ?? 0));
  return out;
}

/** The same, all targets together. */
export function dnatTotal(nodeId: string, vip: string, netns?: string): number {
  return [...dnatConnections(nodeId, vip, netns).values()].reduce((a, b) => a + b, 0);
}

/** GET /cgi-bin/hostname through `host:port` with nc: the hostname of the task that answered. */
export async function hostnameVia(containerId: string, host: string, port: number, dockerHost?: string): Promise<string | undefined> {
  const r = await shIn(containerId, `printf 'GET /cgi-bin/hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`, 20_000, dockerHost);
  if (!r.ok) return undefined;
  return r.out.split('\r\n\r\n')[1]?.trim() || undefined;
}

/** The running `client` service's container and the VIP its resolver gives for `service`. */
export async function clientAndVip(c: BatonCluster, service: string, dockerHost?: string): Promise<{ client: string; vip: string }> {
  const client = await waitFor('the client runs', () => running(tasks(c, 'm1', 'client'))[0]?.containerId, { timeoutMs: 60_000 });
  const vip = await waitFor(`${service} resolves to its VIP`, async () => {
    const a = await resolveIn(client, service, dockerHost);
    return a.length === 1 && a[0];
  }, { timeoutMs: 30_000 });
  return { client, vip };
}
