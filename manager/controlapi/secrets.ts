// Secret calls of the Control service. The data is sealed with the managers' key (as the root
// CA key is) before it is proposed, so it is never in clear in the Raft log, LevelDB or
// snapshots; no call ever returns it. Only the dispatcher unseals it, for the nodes whose tasks
// use it (dispatcher/session-secrets.ts).
import { baton } from '../../proto/gen/baton.js';
import { seal } from '../ca/index.js';
import type { ControlHandlers } from './entry.js';
import { listFilterOf } from './filters.js';
import { encodedSize, page } from './paging.js';
import { resolveObject } from './resolve.js';
import { dataWrites, withoutData, type DataDeps } from './data-objects.js';

export type SecretMethods = 'CreateSecret' | 'GetSecret' | 'ListSecrets' | 'RemoveSecret';

export interface SecretDeps extends DataDeps {
  /** The managers' sealing key (the one that seals the root CA key). */
  managerKey: Uint8Array;
}

export function secretHandlers(deps: SecretDeps): ControlHandlers<SecretMethods> {
  const { manager } = deps;
  const writes = dataWrites(deps, 'secret', (data) => seal(deps.managerKey, data));

  return {
    async CreateSecret(req) {
      return withoutData(await writes.create(req.spec));
    },

    async GetSecret(req) {
      return withoutData(resolveObject(manager, 'secret', req.id ?? ''));
    },

    async ListSecrets(req) {
      const all = manager.store.list('secret', listFilterOf(req.filters)).map(withoutData);
      const { items, nextPageToken } = page(all, req, (s) => encodedSize(baton.Secret, s));
      return { secrets: items, nextPageToken };
    },

    async RemoveSecret(req) {
      await writes.remove(req.id ?? '');
      return { warning: '' };
    },
  };
}
