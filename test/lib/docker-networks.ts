// The Docker networks baton's nodes make (a bridge per baton network and node, labelled with the
// cluster): a SIGKILLed daemon leaves them, as it leaves its containers, so every test cluster
// removes those of its clusters when it is torn down (after their containers).
import Docker from 'dockerode';

/** Removes the clusters' networks; with no engine to ask there is nothing to remove. */
export async function removeClusterNetworks(docker: Docker, clusterIds: ReadonlySet<string>): Promise<void> {
  if (clusterIds.size === 0) return;
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
