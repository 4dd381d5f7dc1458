// The Docker networks baton's nodes make (a bridge per baton network and node, labelled with the
// cluster): a SIGKILLed daemon leaves them, as it leaves its containers, so every test cluster
// removes those of its clusters when it is torn down (after their containers).
import { spawnSync } from 'node:child_process';
import Docker from 'dockerode';

/**
 * The rules of the VIPs' kernel path (worker/network/vip-nat.ts) that SIGKILLed nodes of these
 * clusters left: their jumps (found by the comment naming the cluster) and their chains, in the
 * nat table and the filter table (the loopback guard). Their route_localnet settings go with
 * their bridges, removed next. Without iptables (or root) no node could have made any.
 */
export function removeClusterVipRules(clusterIds: ReadonlySet<string>): void {
  if (clusterIds.size === 0) return;
  for (const table of ['nat', 'filter']) {
    const saved = spawnSync('iptables-save', ['-t', table], { encoding: 'utf8', timeout: 10_000 });
    if (saved.status !== 0) continue;
    const chains = new Set<string>();
    for (const line of saved.stdout.split('\n')) {
      const m = /^-A ((?:PRE|POST)ROUTING|INPUT) (.*--comment "baton cluster (\S+) node \S+" -j (BATON-VIP[SF]?-[0-9a-f]+))$/.exec(line);
      if (!m || !clusterIds.has(m[3]!)) continue;
      chains.add(m[4]!);
      spawnSync('sh', ['-c', `iptables -w -t ${table} -D ${m[1]} ${m[2]}`], { timeout: 10_000 });
    }
    for (const chain of chains) {
      spawnSync('iptables', ['-w', '-t', table, '-F', chain], { timeout: 10_000 });
      spawnSync('iptables', ['-w', '-t', table, '-X', chain], { timeout: 10_000 });
    }
  }
}

/** Removes the clusters' networks; with no engine to ask there is nothing to remove. */
export async function removeClusterNetworks(docker: Docker, clusterIds: ReadonlySet<string>): Promise<void> {
  if (clusterIds.size === 0) return;
  removeClusterVipRules(clusterIds);
  let found: Docker.NetworkInspectInfo[];
  try {
    found = await docker.listNetworks({ filters: { label: ['baton.cluster'] } });
  } catch {
    return; // no engine: no node of these clusters could have made a bridge
  }
  for (const n of found) {
    if (!clusterIds.has(n.Labels?.['baton.cluster'] ?? '')) continue;
    try {
      await docker.getNetwork(n.Id).remove();
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 404) throw err;
    }
  }
}

/** The same with the local engine, for clusters that ran only process tasks. */
export function removeLocalClusterNetworks(clusterIds: ReadonlySet<string>): Promise<void> {
  return removeClusterNetworks(new Docker(), clusterIds);
}
