// Config calls of the Control service: as secrets, except that the data is not secret: it is
// stored as given and `config inspect` shows it (as Docker's does); lists leave it out.
import type { baton } from '../../proto/gen/baton.js';
import type { Handlers } from '../../rpc/define.js';
import type { ControlService } from '../../rpc/services.js';
import { controlService } from '../../rpc/services.js';
import { resolveObject } from './resolve.js';
import { dataWrites, listFilterOf, onLeader, withoutData, type DataDeps } from './data-objects.js';

export type ConfigMethods = 'CreateConfig' | 'GetConfig' | 'ListConfigs' | 'RemoveConfig';

const MANAGERS = ['manager'] as const;

export function configHandlers(deps: DataDeps): Pick<Handlers<ControlService>, ConfigMethods> {
  const { manager, forwarder, guard } = deps;
  const writes = dataWrites(deps, 'config', (data) => data);

  return {
    async CreateConfig(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader(deps, (c) => forwarder.forward(controlService, 'CreateConfig', req, c), caller, async (): Promise<baton.Config.$Properties> =>
        withoutData(await writes.create(req.spec)),
      );
    },

    async GetConfig(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return resolveObject(manager, 'config', req.id ?? '') as baton.Config;
    },

    async ListConfigs(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return { configs: manager.store.list('config', listFilterOf(req.filters)).map(withoutData) };
    },

    async RemoveConfig(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader(deps, (c) => forwarder.forward(controlService, 'RemoveConfig', req, c), caller, async (): Promise<baton.RemoveResponse.$Properties> => {
        await writes.remove(req.id ?? '');
        return { warning: '' };
      });
    },
  };
}
