// The whole Control service: each object's handlers (cluster, nodes, services, tasks, secrets,
// configs, networks) behind the one entry (entry.ts) that checks roles, reads after a barrier and runs
// writes on the leader as the method table (methods.ts) declares.
import type { Handlers } from '../../rpc/define.js';
import type { Guard } from '../../rpc/caller.js';
import type { ControlService } from '../../rpc/services.js';
import { clusterHandlers, type ClusterDeps } from './cluster.js';
import { autolockHandlers } from './autolock.js';
import { controlEntry, type EntryDeps } from './entry.js';
import { nodeHandlers } from './nodes.js';
import { serialQueue, serviceHandlers, type ServiceDeps } from './services.js';
import { taskHandlers } from './tasks.js';
import { secretHandlers, type SecretDeps } from './secrets.js';
import { configHandlers } from './configs.js';
import { networkHandlers } from './networks.js';
import { volumeHandlers, type VolumeDeps } from './volumes.js';
import { imageHandlers } from './images.js';
import { clientCertificateHandlers, type ClientCertDeps } from '../caapi/client-certs.js';

export { managerPeers } from './cluster.js';
export { openUnlockKey } from './autolock.js';
export { CONTROL_METHODS, SERVICE_LOGS_RULE, type Access, type MethodRule } from './methods.js';

export type ControlDeps = EntryDeps & ClusterDeps & Pick<ServiceDeps, 'checkImage'> & SecretDeps & Pick<VolumeDeps, 'dialNode'> & ClientCertDeps;

/**
 * The Control service's gRPC handlers for each guard (the TCP port's, the local socket's): one
 * set of object handlers behind one entry per guard. The handlers are made once and shared, so
 * state they keep for the whole manager (services.ts runs service writes one at a time, for port
 * allocation, and network removals behind them) is one, whichever server a call arrives on.
 */
export function controlHandlers(deps: ControlDeps, guards: readonly Guard[] = [deps.guard]): Handlers<ControlService>[] {
  // Service writes and network removals in one queue (services.ts, networks.ts).
  const serially = serialQueue();
  const handlers = {
    ...clusterHandlers(deps),
    ...autolockHandlers(deps),
    ...nodeHandlers(deps),
    ...serviceHandlers({ ...deps, serially }),
    ...taskHandlers(deps),
    ...secretHandlers(deps),
    ...configHandlers(deps),
    ...networkHandlers({ ...deps, serially }),
    ...volumeHandlers(deps),
    ...imageHandlers(deps),
    ...clientCertificateHandlers(deps),
  };
  return guards.map((guard) => controlEntry(handlers, { ...deps, guard }));
}
