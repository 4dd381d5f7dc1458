// Task calls of the Control service: tasks are written by the orchestrators and the
// dispatcher, never by clients; `service ps` and `node ps` list them, a page at a time.
import { baton } from '../../proto/gen/baton.js';
import type { Manager } from '../manager.js';
import type { ListFilter } from '../store/index.js';
import type { ControlHandlers } from './entry.js';
import { listFilterOf } from './filters.js';
import { encodedSize, page } from './paging.js';
import { resolveObject } from './resolve.js';

export function taskHandlers(deps: { manager: Manager }): ControlHandlers<'ListTasks'> {
  const { manager } = deps;
  return {
    async ListTasks(req) {
      const f = req.filters ?? {};
      const filter: ListFilter = listFilterOf(f);
      if (f.serviceId) filter.serviceIds = [resolveObject(manager, 'service', f.serviceId).meta.id];
      if (f.nodeId) filter.nodeIds = [resolveObject(manager, 'node', f.nodeId).meta.id];
      const { items, nextPageToken } = page(manager.store.list('task', filter), req, (t) => encodedSize(baton.Task, t as baton.Task));
      return { tasks: items as baton.Task[], nextPageToken };
    },
  };
}
