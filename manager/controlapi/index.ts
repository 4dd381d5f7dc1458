// The whole Control service: cluster and node calls plus service and task calls.
import type { Handlers } from '../../src/rpc/define.js';
import type { ControlService } from '../../src/rpc/services.js';
import { clusterHandlers, type ControlDeps } from './control.js';
import { serviceHandlers, type ServiceDeps } from './services.js';

export { managerPeers } from './control.js';

export function controlHandlers(deps: ControlDeps & Pick<ServiceDeps, 'checkImage'>): Handlers<ControlService> {
  return { ...clusterHandlers(deps), ...serviceHandlers(deps) };
}
