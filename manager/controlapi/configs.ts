// Config calls of the Control service: as secrets, except that the data is not secret: it is
// stored as given and `config inspect` shows it (as Docker's does); lists leave it out.
import { baton } from '../../proto/gen/baton.js';
import type { ControlHandlers } from './entry.js';
import { listFilterOf } from './filters.js';
import { encodedSize, page } from './paging.js';
import { resolveObject } from './resolve.js';
import { dataWrites, withoutData, type DataDeps } from './data-objects.js';

export type ConfigMethods = 'CreateConfig' | 'GetConfig' | 'ListConfigs' | 'RemoveConfig';

export function configHandlers(deps: DataDeps): ControlHandlers<ConfigMethods> {
  const { manager } = deps;
  const writes = dataWrites(deps, 'config', (data) => data);

  return {
    async CreateConfig(req) {
      return withoutData(await writes.create(req.spec));
    },

    async GetConfig(req) {
      return resolveObject(manager, 'config', req.id ?? '') as baton.Config;
    },

    async ListConfigs(req) {
      const all = manager.store.list('config', listFilterOf(req.filters)).map(withoutData);
      const { items, nextPageToken } = page(all, req, (c) => encodedSize(baton.Config, c));
      return { configs: items, nextPageToken };
    },

    async RemoveConfig(req) {
      await writes.remove(req.id ?? '');
      return { warning: '' };
    },
  };
}
