// The whole Control service: cluster and node calls, service and task calls, secrets and configs.
import type { Handlers } from '../../rpc/define.js';
import type { ControlService } from '../../rpc/services.js';
import { clusterHandlers, type ControlDeps } from './control.js';
import { serviceHandlers, type ServiceDeps } from './services.js';
import { secretHandlers, type SecretDeps } from './secrets.js';
import { configHandlers } from './configs.js';

export { managerPeers } from './control.js';

export function controlHandlers(deps: ControlDeps & Pick<ServiceDeps, 'checkImage'> & SecretDeps): Handlers<ControlService> {
  return { ...clusterHandlers(deps), ...serviceHandlers(deps), ...secretHandlers(deps), ...configHandlers(deps) };
}
