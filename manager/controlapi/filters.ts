// A list request's filters as the store takes them (ids, names, labels); kind-specific filters
// (node roles, a task's service or node) are added by their handlers.
import type { baton } from '../../proto/gen/baton.js';
import type { ListFilter } from '../store/index.js';

export function listFilterOf(f: baton.Filters.$Properties | null | undefined): ListFilter {
  return {
    ...(f?.ids?.length ? { ids: f.ids } : {}),
    ...(f?.names?.length ? { names: f.names } : {}),
    ...(f?.labels?.length ? { labels: f.labels } : {}),
  };
}
