// Secret calls of the Control service. The data is sealed with the managers' key (as the root
// CA key is) before it is proposed, so it is never in clear in the Raft log, LevelDB or
// snapshots; no call ever returns it. Only the dispatcher unseals it, for the nodes whose tasks
// use it (dispatcher/session-secrets.ts).
import type { baton } from '../../proto/gen/baton.js';
import type { Handlers } from '../../rpc/define.js';
import type { ControlService } from '../../rpc/services.js';
import { controlService } from '../../rpc/services.js';
import { seal } from '../ca/index.js';
import { resolveObject } from './resolve.js';
import { dataWrites, listFilterOf, onLeader, withoutData, type DataDeps } from './data-objects.js';

export type SecretMethods = 'CreateSecret' | 'GetSecret' | 'ListSecrets' | 'RemoveSecret';

export interface SecretDeps extends DataDeps {
  /** The managers' sealing key (the one that seals the root CA key). */
  managerKey: Uint8Array;
}

const MANAGERS = ['manager'] as const;

export function secretHandlers(deps: SecretDeps): Pick<Handlers<ControlService>, SecretMethods> {
  const { manager, forwarder, guard } = deps;
  const writes = dataWrites(deps, 'secret', (data) => seal(deps.managerKey, data));

  return {
    async CreateSecret(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader(deps, (c) => forwarder.forward(controlService, 'CreateSecret', req, c), caller, async (): Promise<baton.Secret.$Properties> => withoutData(await writes.create(req.spec)));
    },

    async GetSecret(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return withoutData(resolveObject(manager, 'secret', req.id ?? ''));
    },

    async ListSecrets(req, call) {
      guard(call, MANAGERS);
      await manager.readBarrier();
      return { secrets: manager.store.list('secret', listFilterOf(req.filters)).map(withoutData) };
    },

    async RemoveSecret(req, call) {
      const caller = guard(call, MANAGERS);
      return onLeader(deps, (c) => forwarder.forward(controlService, 'RemoveSecret', req, c), caller, async (): Promise<baton.RemoveResponse.$Properties> => {
        await writes.remove(req.id ?? '');
        return { warning: '' };
      });
    },
  };
}
