// The node's networks put together (docs/networking.md): its bridges on the local Docker engine,
// the resolvers it forwards to, and the manager the task runtime feeds.
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { NodeBridges, NodeNetworks, VipNat, nodeResolvers, vipNatWanted, type InternalListener } from '../../worker/network/index.js';

const ENGINE_TIMEOUT_MS = 30_000;

export interface NodeNetworksSetup {
  clusterId: string;
  nodeId: string;
  dataDir: string;
  /** The node's mesh: every east-west listener, each time the set changes. */
  applyInternal: (listeners: InternalListener[]) => void;
  logger: Logger;
}

export function startNodeNetworks(o: NodeNetworksSetup): NodeNetworks {
  // A hung engine call must not hold every later task of the node in preparing, nor its stop.
  const docker = new Docker({ timeout: ENGINE_TIMEOUT_MS });
  const logger = o.logger.child({ component: 'networks' });
  return new NodeNetworks({
    // NodeBridges names its own component (a second `component` key would repeat in the lines).
    bridges: new NodeBridges({ docker, clusterId: o.clusterId, nodeId: o.nodeId, logger: o.logger }),
    stateFile: join(o.dataDir, 'tasks', 'network-addresses.json'),
    applyInternal: o.applyInternal,
    ...(vipNatWanted() ? { vipNat: new VipNat({ clusterId: o.clusterId, nodeId: o.nodeId, logger }) } : {}),
    upstreams: async () => {
      const found = await nodeResolvers();
      if (found.problems.length > 0) logger.warn({ problems: found.problems, source: found.source }, 'networks: some resolvers of this node are unusable');
      return found.upstreams;
    },
    members: async (dockerNetwork) => {
      const info = (await docker.getNetwork(dockerNetwork).inspect()) as { Containers?: Record<string, { Name?: string; IPv4Address?: string }> };
      return Object.values(info.Containers ?? {}).map((c) => ({ name: c.Name ?? '', ip: (c.IPv4Address ?? '').replace(/\/\d+$/, '') }));
    },
    logger,
  });
}
